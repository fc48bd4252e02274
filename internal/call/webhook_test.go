package call

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/store"
)

// evRecords also keeps the webhook events the calls emit.
type evRecords struct {
	*memRecords
	mu     sync.Mutex
	events []store.WebhookEvent
}

func (r *evRecords) AppendWebhookEvent(_ context.Context, ev store.WebhookEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	return nil
}

func (r *evRecords) UpdateCallRecordWithEvent(ctx context.Context, rec *store.CallRecord, ev store.WebhookEvent) error {
	if err := r.UpdateCallRecord(ctx, rec); err != nil {
		return err
	}
	return r.AppendWebhookEvent(ctx, ev)
}

func (r *evRecords) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, e.Type)
	}
	return out
}

// A call emits started, ringing, answered and ended, in order; ended
// carries the closed record, written with it.
func TestWebhookEvents(t *testing.T) {
	w := newWorld(t)
	ev := &evRecords{memRecords: w.recs}
	w.m.records = ev
	a1, b1, id := connected(t, w)
	require.Equal(t, []string{store.EventCallStarted, store.EventCallRinging, store.EventCallAnswered}, ev.types())
	b1.hangup(id)
	w.expect(a1, "ended:hangup")
	require.Equal(t, []string{store.EventCallStarted, store.EventCallRinging, store.EventCallAnswered,
		store.EventCallEnded}, ev.types())
	for _, e := range ev.events {
		require.Equal(t, id, e.CallID)
		require.Equal(t, "acct_a", string(e.AccountID))
	}
	last := ev.events[3].Data.(store.CallView)
	require.Equal(t, "hangup", last.EndReason)
	require.NotNil(t, last.EndedAt)
	require.Len(t, last.Legs, 2)
}
