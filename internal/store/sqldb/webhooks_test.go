package sqldb_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/internal/store/sqldb"
)

// An event is fanned out to the subscribed, enabled endpoints of its
// account only; a call's events are due one at a time, in order, per
// endpoint; other calls do not wait.
func TestWebhookOutboxOrdering(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		db := e.open(t)
		acct := &store.Account{Name: "hooks"}
		require.NoError(t, db.CreateAccount(ctx, acct))
		other := &store.Account{Name: "other"}
		require.NoError(t, db.CreateAccount(ctx, other))
		ep := &store.WebhookEndpoint{AccountID: acct.ID, URL: "https://example.com/h", Secret: "whsec_AAAA",
			Events: []string{store.EventCallStarted, store.EventCallEnded}, Enabled: true}
		require.NoError(t, db.CreateWebhookEndpoint(ctx, ep))
		var raw string
		require.NoError(t, sqldb.QueryRow(ctx, db, "SELECT secret FROM webhook_endpoints WHERE id = ?", ep.ID).Scan(&raw))
		require.True(t, strings.HasPrefix(raw, "sealed1:"), "the secret is sealed at rest: %s", raw)
		got, err := db.GetWebhookEndpoint(ctx, acct.ID, ep.ID)
		require.NoError(t, err)
		require.Equal(t, "whsec_AAAA", got.Secret)
		_, err = db.GetWebhookEndpoint(ctx, other.ID, ep.ID)
		require.ErrorIs(t, err, store.ErrNotFound, "another account's endpoint")
		off := &store.WebhookEndpoint{AccountID: acct.ID, URL: "https://example.com/off", Secret: "whsec_AAAA",
			Events: []string{store.EventCallStarted}, Enabled: false}
		require.NoError(t, db.CreateWebhookEndpoint(ctx, off))
		require.NoError(t, db.CreateWebhookEndpoint(ctx, &store.WebhookEndpoint{AccountID: other.ID,
			URL: "https://example.com/o", Secret: "whsec_AAAA", Events: []string{store.EventCallStarted}, Enabled: true}))

		t0 := time.Now().UTC()
		emit := func(typ, call string) {
			require.NoError(t, db.AppendWebhookEvent(ctx, store.WebhookEvent{Type: typ, AccountID: acct.ID,
				CallID: ident.CallID(call), At: t0, Data: map[string]any{"id": call}}))
		}
		emit(store.EventCallStarted, "call_a")
		emit(store.EventCallAnswered, "call_a") // not subscribed: no row
		emit(store.EventCallStarted, "call_b")
		r := &store.CallRecord{AccountID: acct.ID, Direction: "internal", StartedAt: t0}
		require.NoError(t, db.CreateCallRecord(ctx, r))
		ended := t0
		r.EndedAt, r.EndReason = &ended, "hangup"
		require.NoError(t, db.UpdateCallRecordWithEvent(ctx, r, store.WebhookEvent{Type: store.EventCallEnded,
			AccountID: acct.ID, CallID: r.ID, At: t0, Data: r.View()}))
		emit(store.EventCallEnded, "call_a")

		dueTypes := func() []string {
			due, err := db.DueWebhookDeliveries(ctx, store.DueQuery{Now: t0.Add(time.Second), Limit: 10})
			require.NoError(t, err)
			var out []string
			for _, d := range due {
				require.Equal(t, ep.ID, d.EndpointID)
				require.Equal(t, ep.URL, d.URL)
				out = append(out, string(d.CallID)+" "+d.Type)
			}
			return out
		}
		require.Equal(t, []string{"call_a call.started", "call_b call.started", string(r.ID) + " call.ended"}, dueTypes())

		due, err := db.DueWebhookDeliveries(ctx, store.DueQuery{Now: t0.Add(time.Second), Limit: 1})
		require.NoError(t, err)
		first := due[0]
		// A failed attempt retried later keeps call_a's next event waiting.
		require.NoError(t, db.FinishWebhookAttempt(ctx, first.ID, store.WebhookAttempt{Err: "HTTP 503", At: t0, Next: t0.Add(time.Hour)}))
		require.Equal(t, []string{"call_b call.started", string(r.ID) + " call.ended"}, dueTypes())
		require.NoError(t, db.FinishWebhookAttempt(ctx, first.ID, store.WebhookAttempt{Delivered: true, At: t0}))
		require.Equal(t, []string{"call_b call.started", string(r.ID) + " call.ended", "call_a call.ended"}, dueTypes())

		list, err := db.ListWebhookDeliveries(ctx, ep.ID, 0)
		require.NoError(t, err)
		require.Len(t, list, 4)
		last := list[len(list)-1]
		require.Equal(t, store.DeliveryDelivered, last.Status)
		require.Equal(t, 2, last.Attempts)
		require.NotNil(t, last.DeliveredAt)

		d, err := db.RedeliverWebhook(ctx, ep.ID, first.ID, t0, t0.Add(time.Hour))
		require.NoError(t, err)
		require.Equal(t, store.DeliveryPending, d.Status)
		_, err = db.RedeliverWebhook(ctx, off.ID, first.ID, t0, t0.Add(time.Hour))
		require.ErrorIs(t, err, store.ErrNotFound)

		require.NoError(t, db.DeleteWebhookEndpoint(ctx, acct.ID, ep.ID))
		require.Empty(t, dueTypes())
	})
}
