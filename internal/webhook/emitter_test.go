package webhook

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/leakcheck"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// slowStore blocks every write until release is closed.
type slowStore struct {
	release chan struct{}
	mu      sync.Mutex
	got     []store.WebhookEvent
}

func (s *slowStore) AppendWebhookEvent(_ context.Context, ev store.WebhookEvent) error {
	<-s.release
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, ev)
	return nil
}

func (s *slowStore) UpdateCallRecordWithEvent(context.Context, *store.CallRecord, store.WebhookEvent) error {
	return nil
}

func (s *slowStore) GetUser(_ context.Context, id ident.UserID) (*store.User, error) {
	return &store.User{ID: id, AccountID: "acct_" + ident.AccountID(id), Name: "N"}, nil
}

// Emit never blocks: past the queue it drops and counts; what was queued
// is written in order, with the account looked up and filled in, and Stop
// writes the rest.
func TestEmitterQueuesDropsAndDrains(t *testing.T) {
	defer leakcheck.None(t)
	st := &slowStore{release: make(chan struct{})}
	bell := NewBell()
	rung := bell.Wait()
	e := NewEmitter(st, 3, bell, slog.New(slog.NewTextHandler(io.Discard, nil)))
	e.Start()
	taken := 0
	for i := range 10 {
		data := map[string]any{"i": i}
		if e.Emit(store.WebhookEvent{Type: store.EventPresenceChanged, Data: data}, "u1",
			func(ev *store.WebhookEvent, u *store.User) { data["name"] = u.Name }) {
			taken++
		}
	}
	require.GreaterOrEqual(t, taken, 3)
	require.LessOrEqual(t, taken, 4, "the queue and the write in progress")
	require.Equal(t, int64(10-taken), e.Dropped())
	close(st.release)
	e.Stop()
	<-rung
	require.Len(t, st.got, taken)
	// In order, each once; which ones were dropped depends on when the
	// writer took the first (0, 1, 2, 4 when the queue filled before it
	// ran and event 3 found no room).
	last := -1
	for _, ev := range st.got {
		require.Equal(t, ident.AccountID("acct_u1"), ev.AccountID)
		i := ev.Data.(map[string]any)["i"].(int)
		require.Greater(t, i, last, "events keep their order")
		last = i
		require.Equal(t, "N", ev.Data.(map[string]any)["name"])
		require.NotEmpty(t, ev.ID)
	}
	require.False(t, e.Emit(store.WebhookEvent{Type: store.EventPresenceChanged}, "u1", nil), "stopped")
}
