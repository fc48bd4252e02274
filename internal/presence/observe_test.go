package presence

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/store"
)

type observed struct {
	mu  sync.Mutex
	got []string
}

func (o *observed) fn(cur State, prev Summary) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, string(cur.User)+" "+string(prev.Status)+">"+string(cur.Status)+" "+cur.StatusText)
}

func (o *observed) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.got
	o.got = nil
	return out
}

// The observer hears summary changes of users nobody watches (status,
// do not disturb, status text), not dialog-only changes.
func TestObserverHearsSummaryChanges(t *testing.T) {
	h := newTestHub(t)
	o := &observed{}
	h.Observe(o.fn)
	wait := func(want ...string) {
		t.Helper()
		var got []string
		require.Eventually(t, func() bool { got = append(got, o.take()...); return len(got) >= len(want) }, 2*time.Second, 5*time.Millisecond)
		require.Equal(t, want, got)
	}
	h.DeviceUp(alice, "sess_1")
	wait("user_alice offline>available ")
	h.DeviceUp(alice, "sess_2") // still available: nothing
	h.CallChanged(alice, Dialog{ID: "call_1", State: DialogEarly})
	wait("user_alice available>on_call ")
	h.CallChanged(alice, Dialog{ID: "call_1", State: DialogConfirmed}) // still on a call
	h.CallChanged(alice, Dialog{ID: "call_1", State: DialogTerminated})
	wait("user_alice on_call>available ")
	h.UserChanged(&store.User{ID: alice, AccountID: acctA, Name: "Alice", Extension: "101", StatusText: "back at 3"})
	wait("user_alice available>available back at 3")
	h.Registered(bob, time.Now().Add(50*time.Millisecond))
	wait("user_bob offline>available ")
	wait("user_bob available>offline ") // the registration lapsed
	require.Empty(t, o.take())
}

// In a cluster every node hears every change, and only the node where it
// happened reports it to the observer: another node's share, its user
// news and its registration lapsing change watchers' view here, not the
// observer's. A node leaving is reported by the one node asked to.
func TestObserverIgnoresOtherNodesNews(t *testing.T) {
	h := newTestHub(t)
	o := &observed{}
	h.Observe(o.fn)
	wait := func(want ...string) {
		t.Helper()
		var got []string
		require.Eventually(t, func() bool { got = append(got, o.take()...); return len(got) >= len(want) }, 2*time.Second, 5*time.Millisecond)
		require.Equal(t, want, got)
	}
	h.DeviceUp(alice, "sess_1") // a change here: reported
	wait("user_alice offline>available ")
	h.SetRemote("n2", alice, Share{Devices: 1, Dialogs: []Dialog{{ID: "call_9", State: DialogConfirmed}}})
	h.RemoteUserChanged(&store.User{ID: alice, AccountID: acctA, Name: "Alice", Extension: "101", StatusText: "at n2"})
	h.SetRemote("n3", bob, Share{RegisteredUntil: time.Now().Add(30 * time.Millisecond)})
	require.Eventually(t, func() bool { // bob's registration at n3 lapsed, unheard
		s, err := h.Get(bob)
		return err == nil && s.Status == Offline
	}, 2*time.Second, 5*time.Millisecond)
	// The next change here is reported from what the news made of alice
	// (on a call at n2), not from what this node last reported.
	h.UserChanged(&store.User{ID: alice, AccountID: acctA, Name: "Alice", Extension: "101", StatusText: "back"})
	wait("user_alice on_call>on_call back")
	h.SetRemote("n2", bob, Share{Devices: 1})
	h.DropNode("n2", false) // another node reports it
	h.SetRemote("n2", bob, Share{Devices: 1})
	h.DropNode("n2", true)
	wait("user_bob available>offline lunch")
	require.Empty(t, o.take())
}
