package presence

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/leakcheck"
	"github.com/switchboard-voice/switchboard/internal/store"
)

type fakeDir struct {
	mu    sync.Mutex
	users map[ident.UserID]store.User
}

func (d *fakeDir) GetUser(_ context.Context, id ident.UserID) (*store.User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.users[id]
	if !ok {
		return nil, fmt.Errorf("user %q: %w", id, store.ErrNotFound)
	}
	return &u, nil
}

const (
	acctA ident.AccountID = "acct_a"
	acctB ident.AccountID = "acct_b"
	alice ident.UserID    = "user_alice"
	bob   ident.UserID    = "user_bob"
	carol ident.UserID    = "user_carol" // account B
)

func newTestHub(t *testing.T) *Hub {
	t.Helper()
	dir := &fakeDir{users: map[ident.UserID]store.User{
		alice: {ID: alice, AccountID: acctA, Name: "Alice", Extension: "101"},
		bob:   {ID: bob, AccountID: acctA, Name: "Bob", Extension: "102", DoNotDisturb: true, StatusText: "lunch"},
		carol: {ID: carol, AccountID: acctB, Name: "Carol", Extension: "101"},
	}}
	h := NewHub(dir, slog.Default())
	t.Cleanup(func() {
		h.Close()
		leakcheck.None(t)
	})
	return h
}

// recorder is a watcher that keeps what it hears.
type recorder struct {
	mu     sync.Mutex
	states []State
}

func (r *recorder) fn(s State) {
	r.mu.Lock()
	r.states = append(r.states, s)
	r.mu.Unlock()
}

func (r *recorder) all() []State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]State(nil), r.states...)
}

func (r *recorder) last(t *testing.T) State {
	t.Helper()
	s := r.all()
	require.NotEmpty(t, s)
	return s[len(s)-1]
}

// waitFor polls until the recorder's last state passes check.
func (r *recorder) waitFor(t *testing.T, check func(State) bool) State {
	t.Helper()
	var got State
	require.Eventually(t, func() bool {
		s := r.all()
		if len(s) == 0 {
			return false
		}
		got = s[len(s)-1]
		return check(got)
	}, 2*time.Second, time.Millisecond)
	return got
}

func TestStatusTransitions(t *testing.T) {
	type op struct {
		name   string
		do     func(h *Hub)
		want   Status
		change bool // updated_at moves
	}
	call := func(id string, st DialogState) func(h *Hub) {
		return func(h *Hub) { h.CallChanged(alice, Dialog{ID: id, State: st}) }
	}
	tests := []struct {
		name string
		ops  []op
	}{
		{"socket then call then hangup then gone", []op{
			{"device up", func(h *Hub) { h.DeviceUp(alice, "sess_1") }, Available, true},
			{"second device", func(h *Hub) { h.DeviceUp(alice, "sess_2") }, Available, false},
			{"ringing", call("call_1", DialogEarly), OnCall, true},
			{"answered", call("call_1", DialogConfirmed), OnCall, false},
			{"hung up", call("call_1", DialogTerminated), Available, true},
			{"one device gone", func(h *Hub) { h.DeviceDown(alice, "sess_1") }, Available, false},
			{"last device gone", func(h *Hub) { h.DeviceDown(alice, "sess_2") }, Offline, true},
		}},
		{"on a call with no device", []op{
			{"ringing", call("call_1", DialogEarly), OnCall, true},
			{"second call", call("call_2", DialogConfirmed), OnCall, false},
			{"first ends", call("call_1", DialogTerminated), OnCall, false},
			{"second ends", call("call_2", DialogTerminated), Offline, true},
			{"unknown call ends", call("call_3", DialogTerminated), Offline, false},
		}},
		{"registration counts as a device", []op{
			{"registered", func(h *Hub) { h.Registered(alice, time.Now().Add(time.Hour)) }, Available, true},
			{"socket too", func(h *Hub) { h.DeviceUp(alice, "sess_1") }, Available, false},
			{"unregistered", func(h *Hub) { h.Registered(alice, time.Time{}) }, Available, false},
			{"socket gone", func(h *Hub) { h.DeviceDown(alice, "sess_1") }, Offline, true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHub(t)
			prev, err := h.Get(alice)
			require.NoError(t, err)
			require.Equal(t, Offline, prev.Status)
			for _, o := range tt.ops {
				o.do(h)
				got, err := h.Get(alice)
				require.NoError(t, err)
				require.Equal(t, o.want, got.Status, o.name)
				require.Equal(t, o.change, !got.UpdatedAt.Equal(prev.UpdatedAt), "%s: updated_at moved", o.name)
				prev = got
			}
		})
	}
}

func TestRegistrationExpires(t *testing.T) {
	h := newTestHub(t)
	var r recorder
	_, cancel, err := h.Watch(acctA, alice, r.fn)
	require.NoError(t, err)
	defer cancel()
	h.Registered(alice, time.Now().Add(50*time.Millisecond))
	r.waitFor(t, func(s State) bool { return s.Status == Available })
	r.waitFor(t, func(s State) bool { return s.Status == Offline })
}

func TestWatchScope(t *testing.T) {
	h := newTestHub(t)
	tests := []struct {
		name    string
		account ident.AccountID
		user    ident.UserID
		err     error
	}{
		{"same account", acctA, bob, nil},
		{"another account's user", acctA, carol, ErrUnavailable},
		{"unknown user", acctA, "user_nobody", ErrUnavailable},
		{"the other account sees its own", acctB, carol, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur, cancel, err := h.Watch(tt.account, tt.user, func(State) {})
			require.ErrorIs(t, err, tt.err)
			if err != nil {
				return
			}
			defer cancel()
			require.Equal(t, tt.user, cur.User)
			require.Equal(t, Offline, cur.Status)
		})
	}
	cur, cancel, err := h.Watch(acctA, bob, func(State) {})
	require.NoError(t, err)
	cancel()
	require.True(t, cur.DoNotDisturb)
	require.Equal(t, "lunch", cur.StatusText)
	require.Equal(t, "Bob", cur.Name)
}

func TestDialogsReportedAndTerminatedOnce(t *testing.T) {
	h := newTestHub(t)
	var r recorder
	_, cancel, err := h.Watch(acctA, alice, r.fn)
	require.NoError(t, err)
	defer cancel()
	h.CallChanged(alice, Dialog{ID: "call_1", State: DialogEarly, Initiator: true, Remote: "102"})
	r.waitFor(t, func(s State) bool { return len(s.Dialogs) == 1 && s.Dialogs[0].State == DialogEarly })
	h.CallChanged(alice, Dialog{ID: "call_1", State: DialogConfirmed, Initiator: true, Remote: "102"})
	r.waitFor(t, func(s State) bool { return len(s.Dialogs) == 1 && s.Dialogs[0].State == DialogConfirmed })
	h.CallChanged(alice, Dialog{ID: "call_1", State: DialogTerminated, Initiator: true, Remote: "102"})
	s := r.waitFor(t, func(s State) bool { return len(s.Dialogs) == 1 && s.Dialogs[0].State == DialogTerminated })
	require.Equal(t, Offline, s.Status)
	h.DeviceUp(alice, "sess_1") // the next change no longer carries the ended call
	s = r.waitFor(t, func(s State) bool { return s.Status == Available })
	require.Empty(t, s.Dialogs)
	got, err := h.Get(alice)
	require.NoError(t, err)
	require.Empty(t, got.Dialogs)
}

// TestSlowNotifierCoalesces holds the notifier inside a watcher while the
// status flips many times: reporters do not wait, and the watcher then
// hears the latest state, not every step.
func TestSlowNotifierCoalesces(t *testing.T) {
	h := newTestHub(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var r recorder
	_, cancel, err := h.Watch(acctA, alice, func(s State) {
		once.Do(func() { close(entered); <-release })
		r.fn(s)
	})
	require.NoError(t, err)
	defer cancel()
	h.DeviceUp(alice, "sess_1") // the notifier blocks in the watcher on this one
	<-entered                   // (and has taken it alone, before the calls below)
	start := time.Now()
	const calls = 100
	for i := range calls {
		id := fmt.Sprintf("call_%d", i)
		h.CallChanged(alice, Dialog{ID: id, State: DialogConfirmed})
		h.CallChanged(alice, Dialog{ID: id, State: DialogTerminated})
	}
	h.DeviceDown(alice, "sess_1")
	require.Less(t, time.Since(start), time.Second, "reporters waited for the watcher")
	close(release)
	r.waitFor(t, func(s State) bool { return s.Status == Offline })
	require.LessOrEqual(t, len(r.all()), 3, "each change was delivered on its own")
	ended := map[string]bool{} // every ended call is still reported, once
	for _, st := range r.all() {
		for _, d := range st.Dialogs {
			require.Equal(t, DialogTerminated, d.State)
			require.False(t, ended[d.ID], "%s reported twice", d.ID)
			ended[d.ID] = true
		}
	}
	require.Len(t, ended, calls)
}

func TestCancelStopsDeliveries(t *testing.T) {
	h := newTestHub(t)
	var r1, r2 recorder
	_, cancel1, err := h.Watch(acctA, alice, r1.fn)
	require.NoError(t, err)
	_, cancel2, err := h.Watch(acctA, alice, r2.fn)
	require.NoError(t, err)
	defer cancel2()
	h.DeviceUp(alice, "sess_1")
	r1.waitFor(t, func(s State) bool { return s.Status == Available })
	cancel1()
	cancel1() // idempotent
	h.DeviceDown(alice, "sess_1")
	r2.waitFor(t, func(s State) bool { return s.Status == Offline })
	require.Equal(t, Available, r1.last(t).Status)
}

func TestUserChanged(t *testing.T) {
	h := newTestHub(t)
	var r recorder
	cur, cancel, err := h.Watch(acctA, alice, r.fn)
	require.NoError(t, err)
	defer cancel()
	u := store.User{ID: alice, AccountID: acctA, Name: "Alice B", Extension: "101"}
	h.UserChanged(&u) // a new name: told, updated_at stays
	s := r.waitFor(t, func(s State) bool { return s.Name == "Alice B" })
	require.Equal(t, cur.UpdatedAt, s.UpdatedAt)
	u.DoNotDisturb, u.StatusText = true, "away"
	h.UserChanged(&u)
	s = r.waitFor(t, func(s State) bool { return s.DoNotDisturb })
	require.Equal(t, "away", s.StatusText)
	require.True(t, s.UpdatedAt.After(cur.UpdatedAt))
}

func TestFanOutReachesEveryWatcher(t *testing.T) {
	h := newTestHub(t)
	const n = 200
	recs := make([]*recorder, n)
	for i := range recs {
		recs[i] = &recorder{}
		_, cancel, err := h.Watch(acctA, alice, recs[i].fn)
		require.NoError(t, err)
		defer cancel()
	}
	h.DeviceUp(alice, "sess_1")
	for _, r := range recs {
		r.waitFor(t, func(s State) bool { return s.Status == Available })
	}
}
