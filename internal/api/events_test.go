package api

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/internal/webhook"
	"github.com/switchboard-voice/switchboard/test/rest"
)

// The events stream sends new events in order with their ids, pings when
// idle, filters by type, resumes after Last-Event-ID, caps streams per
// account and ends with going_away when closed.
func TestEventsStream(t *testing.T) {
	bell := webhook.NewBell()
	ta := newTestAPI(t, func(a *API) {
		a.Streams = NewEventStreams(bell, 2)
		a.Streams.Heartbeat = 50 * time.Millisecond
	})
	log := ta.Store.(store.WebhookEvents)
	emit := func(typ string) string {
		ev := store.WebhookEvent{ID: webhook.NewEventID(), Type: typ, AccountID: ta.DefaultAccount, At: time.Now(), Data: map[string]string{"n": typ}}
		require.NoError(t, log.AppendWebhookEvent(context.Background(), ev))
		bell.Ring()
		return ev.ID
	}
	url := ta.srv.URL + "/v1/events"
	old := emit(store.EventCallStarted) // before the stream: not sent without Last-Event-ID

	s := rest.OpenSSE(t, url, testAdminKey, "")
	require.Equal(t, 200, s.Status)
	defer s.Close()
	ids := []string{emit(store.EventCallStarted), emit(store.EventPresenceChanged), emit(store.EventCallEnded)}
	for i, typ := range []string{store.EventCallStarted, store.EventPresenceChanged, store.EventCallEnded} {
		ev := s.Next(t, 5*time.Second)
		require.Equal(t, ids[i], ev.ID)
		require.Equal(t, typ, ev.Event)
		require.Contains(t, ev.Data, `"type":"`+typ+`"`)
	}
	require.Eventually(t, func() bool {
		select {
		case ev := <-s.Events:
			return ev.Comment == "ping"
		default:
			return false
		}
	}, 2*time.Second, 10*time.Millisecond, "a ping while idle")

	f := rest.OpenSSE(t, url+"?types=call.ended,call.started", testAdminKey, old)
	defer f.Close()
	require.Equal(t, ids[0], f.Next(t, 5*time.Second).ID, "resumed after old")
	require.Equal(t, ids[2], f.Next(t, 5*time.Second).ID, "presence.changed filtered out")

	require.Equal(t, 429, rest.OpenSSE(t, url, testAdminKey, "").Status, "two streams open: the cap")
	f.Close()
	require.Eventually(t, func() bool { return ta.Streams.Open() == 1 }, 5*time.Second, 10*time.Millisecond)

	r := rest.OpenSSE(t, url, testAdminKey, "evt_pruned0000")
	require.Equal(t, 200, r.Status)
	require.Equal(t, old, r.Next(t, 5*time.Second).ID, "an unknown id replays every retained event")
	r.Close()

	done := make(chan struct{})
	go func() { ta.Streams.Close(); close(done) }()
	require.Equal(t, "going_away", s.Next(t, 5*time.Second).Event)
	<-done
	require.Equal(t, 503, rest.OpenSSE(t, url, testAdminKey, "").Status)
}

func TestEventsStreamRefusals(t *testing.T) {
	ta := newTestAPI(t, func(a *API) { a.Streams = NewEventStreams(nil, 0) })
	runBad(t, ta, []badRequest{
		{name: "bad type", method: "GET", path: "/v1/events?types=call.started,nope", status: 422, code: "invalid_types"},
		{name: "account", method: "GET", path: "/v1/events?account=acct_nope", status: 404, code: "account_not_found"},
		{name: "method", method: "POST", path: "/v1/events", status: 405, code: "method_not_allowed"},
	})
	r := rest.Do(t, "GET", ta.srv.URL+"/v1/events", "", nil)
	require.Equal(t, 401, r.Status)
	s := rest.OpenSSE(t, ta.srv.URL+"/v1/events", testAdminKey, "not-an-id")
	require.Equal(t, 400, s.Status)
}

// Rotation returns a new secret; the old one keeps signing for 24 h.
func TestRotateWebhookSecret(t *testing.T) {
	ta := newTestAPI(t, func(a *API) { a.Webhooks.AllowHTTPHosts = []string{"example.com"} })
	ep := ta.must(t, 201, "POST", "/v1/webhook_endpoints", map[string]any{"url": "http://example.com/h", "events": []string{"call.ended"}})
	require.Nil(t, ep["previous_secret_expires_at"])
	rot := ta.must(t, 200, "POST", "/v1/webhook_endpoints/"+ep["id"].(string)+"/rotate_secret", nil)
	require.NotEqual(t, ep["secret"], rot["secret"])
	require.Contains(t, rot["secret"], webhook.SecretPrefix)
	exp, err := time.Parse(time.RFC3339, rot["previous_secret_expires_at"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(24*time.Hour), exp, time.Minute)
	got := ta.must(t, 200, "GET", "/v1/webhook_endpoints/"+ep["id"].(string), nil)
	require.Nil(t, got["secret"], "the secret is shown at create and rotate only")
	require.Equal(t, rot["previous_secret_expires_at"], got["previous_secret_expires_at"])
	ta.must(t, 404, "POST", "/v1/webhook_endpoints/we_nope/rotate_secret", nil)
}
