package presence

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRemoteShares(t *testing.T) {
	h := newTestHub(t)
	var r recorder
	cur, cancel, err := h.Watch(acctA, alice, r.fn)
	require.NoError(t, err)
	defer cancel()
	require.Equal(t, Offline, cur.Status)

	// Another node's device makes alice available; its call puts her on
	// a call; this node's own share stays empty.
	h.SetRemote("n2", alice, Share{Devices: 1})
	r.waitFor(t, func(s State) bool { return s.Status == Available })
	h.SetRemote("n2", alice, Share{Devices: 1, Dialogs: []Dialog{{ID: "call_1", State: DialogConfirmed}}})
	r.waitFor(t, func(s State) bool { return s.Status == OnCall && len(s.Dialogs) == 1 })
	require.Equal(t, Local{Account: acctA}, h.LocalShare(alice))
	require.Empty(t, h.LocalUsers())

	// The call ending there is reported terminated once.
	h.SetRemote("n2", alice, Share{Devices: 1})
	s := r.waitFor(t, func(s State) bool { return s.Status == Available })
	require.Equal(t, []Dialog{{ID: "call_1", State: DialogTerminated}}, s.Dialogs)

	// The node leaving takes its part with it.
	h.DropNode("n2", true)
	r.waitFor(t, func(s State) bool { return s.Status == Offline })

	// A remote registration lapses by itself.
	h.SetRemote("n3", alice, Share{RegisteredUntil: time.Now().Add(100 * time.Millisecond)})
	r.waitFor(t, func(s State) bool { return s.Status == Available })
	r.waitFor(t, func(s State) bool { return s.Status == Offline })
}

func TestLocalShare(t *testing.T) {
	h := newTestHub(t)
	h.DeviceUp(bob, "sess_1")
	h.CallChanged(bob, Dialog{ID: "call_2", State: DialogEarly, Initiator: true})
	h.SetRemote("n2", bob, Share{Devices: 3})
	l := h.LocalShare(bob)
	require.Equal(t, []string{"sess_1"}, l.Devices)
	require.Equal(t, Share{Devices: 1, Dialogs: []Dialog{{ID: "call_2", State: DialogEarly, Initiator: true}}}, l.Share)
	require.Equal(t, []string{string(bob)}, []string{string(h.LocalUsers()[0])})
}
