package sqldb_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// Every event reaches the log, subscribed or not, in order per account;
// a type filter and a resume position select from it.
func TestEventLog(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		db := e.open(t)
		a, b := newAccount(t, db, "a"), newAccount(t, db, "b")
		t0 := time.Now().UTC()
		var ids []string
		for i, typ := range []string{store.EventCallStarted, store.EventPresenceChanged, store.EventCallEnded} {
			ev := store.WebhookEvent{ID: "evt_" + string(rune('a'+i)), Type: typ, AccountID: a.ID, CallID: "call_1", At: t0, Data: i}
			require.NoError(t, db.AppendWebhookEvent(ctx, ev))
			ids = append(ids, ev.ID)
		}
		require.NoError(t, db.AppendWebhookEvent(ctx, store.WebhookEvent{ID: "evt_b1", Type: store.EventCallStarted, AccountID: b.ID, At: t0}))

		all, err := db.EventsAfter(ctx, a.ID, 0, nil, 0)
		require.NoError(t, err)
		require.Len(t, all, 3)
		for i, e := range all {
			require.Equal(t, ids[i], e.ID)
			require.Equal(t, ident.CallID("call_1"), e.CallID)
			require.Contains(t, string(e.Payload), `"type":"`+e.Type+`"`)
		}
		seq, err := db.EventSeq(ctx, a.ID, ids[0])
		require.NoError(t, err)
		rest, err := db.EventsAfter(ctx, a.ID, seq, []string{store.EventCallEnded, store.EventCallStarted}, 10)
		require.NoError(t, err)
		require.Len(t, rest, 1)
		require.Equal(t, ids[2], rest[0].ID)
		_, err = db.EventSeq(ctx, b.ID, ids[0])
		require.ErrorIs(t, err, store.ErrNotFound, "another account's event")
		last, err := db.LastEventSeq(ctx, a.ID)
		require.NoError(t, err)
		require.Equal(t, all[2].Seq, last)

		// Pruning drops old events, old finished deliveries, and fails
		// pending ones past their expiry.
		r, err := db.PruneWebhooks(ctx, t0, t0, t0.Add(time.Millisecond))
		require.NoError(t, err)
		require.Equal(t, int64(4), r.Events)
		all, err = db.EventsAfter(ctx, a.ID, 0, nil, 0)
		require.NoError(t, err)
		require.Empty(t, all)
	})
}

// One endpoint's backlog does not crowd out another's; a busy endpoint is
// skipped; a rotated secret keeps signing through its grace period; old
// finished deliveries and expired pending ones are pruned.
func TestWebhookDueFairnessRotationPrune(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		db := e.open(t)
		acct := newAccount(t, db, "hooks")
		mk := func(url string) *store.WebhookEndpoint {
			ep := &store.WebhookEndpoint{AccountID: acct.ID, URL: url, Secret: "whsec_AAAA", Events: []string{store.EventPresenceChanged}, Enabled: true}
			require.NoError(t, db.CreateWebhookEndpoint(ctx, ep))
			return ep
		}
		t0 := time.Now().UTC()
		emit := func(n int) {
			for range n {
				require.NoError(t, db.AppendWebhookEvent(ctx, store.WebhookEvent{Type: store.EventPresenceChanged, AccountID: acct.ID, At: t0}))
			}
		}
		slow := mk("https://slow.example/h")
		emit(5)
		fast := mk("https://fast.example/h")
		emit(2)
		count := func(q store.DueQuery) map[string]int {
			due, err := db.DueWebhookDeliveries(ctx, q)
			require.NoError(t, err)
			n := map[string]int{}
			for _, d := range due {
				n[d.EndpointID]++
			}
			return n
		}
		now := t0.Add(time.Second)
		require.Equal(t, map[string]int{slow.ID: 4}, count(store.DueQuery{Now: now, Limit: 4}), "oldest first, no cap")
		require.Equal(t, map[string]int{slow.ID: 2, fast.ID: 2}, count(store.DueQuery{Now: now, Limit: 4, PerEndpoint: 2}))
		require.Equal(t, map[string]int{fast.ID: 2}, count(store.DueQuery{Now: now, Limit: 10, Skip: []string{slow.ID}}))
		require.Equal(t, map[string]int{slow.ID: 7, fast.ID: 2}, count(store.DueQuery{Now: now, Limit: 10, Skip: []string{}}))

		old := slow.Secret
		grace := t0.Add(24 * time.Hour)
		got, err := db.RotateWebhookSecret(ctx, acct.ID, slow.ID, "whsec_BBBB", grace)
		require.NoError(t, err)
		require.Equal(t, "whsec_BBBB", got.Secret)
		require.Equal(t, old, got.PreviousSecret)
		require.Equal(t, grace.UnixMilli(), got.PreviousUntil.UnixMilli())
		due, err := db.DueWebhookDeliveries(ctx, store.DueQuery{Now: now, Limit: 1})
		require.NoError(t, err)
		require.Equal(t, "whsec_BBBB", due[0].Secret)
		require.Equal(t, old, due[0].PreviousSecret)
		_, err = db.RotateWebhookSecret(ctx, newAccount(t, db, "x").ID, slow.ID, "whsec_CCCC", grace)
		require.ErrorIs(t, err, store.ErrNotFound)

		require.NoError(t, db.FinishWebhookAttempt(ctx, due[0].ID, store.WebhookAttempt{Delivered: true, At: now}))
		r, err := db.PruneWebhooks(ctx, t0, t0.Add(time.Millisecond), t0)
		require.NoError(t, err)
		require.Equal(t, store.PruneResult{Deliveries: 1}, r, "nothing has expired yet: the delivered one goes")
		r, err = db.PruneWebhooks(ctx, t0.Add(25*time.Hour), t0.Add(-time.Millisecond), t0)
		require.NoError(t, err)
		require.Equal(t, store.PruneResult{Expired: 8}, r, "expired ones fail, and are kept for the retention")
		r, err = db.PruneWebhooks(ctx, t0.Add(25*time.Hour), t0.Add(time.Millisecond), t0)
		require.NoError(t, err)
		require.Equal(t, store.PruneResult{Deliveries: 8}, r)
	})
}
