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
