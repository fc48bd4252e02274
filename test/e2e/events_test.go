package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/webhook"
	"github.com/switchboard-voice/switchboard/test/harness"
	"github.com/switchboard-voice/switchboard/test/rest"
)

// signedReceiver is a webhook endpoint that keeps every request it
// verified against any of its secrets, with the secrets each signature
// entry matched.
type signedReceiver struct {
	t       *testing.T
	mu      sync.Mutex
	secrets []string
	got     []signedEvent
}

type signedEvent struct {
	ID, Type string
	Data     map[string]any
	Verified []string // the secrets that verified an entry of webhook-signature
}

func (h *signedReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id := r.Header.Get("webhook-id")
	ts, err := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
	require.NoError(h.t, err)
	h.mu.Lock()
	defer h.mu.Unlock()
	var ok []string
	for _, s := range h.secrets {
		if webhook.Verify(s, id, ts, body, r.Header.Get("webhook-signature")) {
			ok = append(ok, s)
		}
	}
	if len(ok) == 0 {
		h.t.Errorf("bad signature on %s: %s", id, r.Header.Get("webhook-signature"))
		w.WriteHeader(400)
		return
	}
	var ev struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
	require.NoError(h.t, json.Unmarshal(body, &ev))
	h.got = append(h.got, signedEvent{ID: id, Type: ev.Type, Data: ev.Data, Verified: ok})
	w.WriteHeader(204)
}

func (h *signedReceiver) setSecrets(s ...string) {
	h.mu.Lock()
	h.secrets = s
	h.mu.Unlock()
}

// waitFor returns the first event received after the first skip that
// matches, failing after 15 s.
func (h *signedReceiver) waitFor(t *testing.T, what string, match func(signedEvent) bool) signedEvent {
	t.Helper()
	var found signedEvent
	harness.CheckFor(t, 15*time.Second, func() error {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, e := range h.got {
			if match(e) {
				found = e
				return nil
			}
		}
		var seen []string
		for _, e := range h.got {
			seen = append(seen, fmt.Sprintf("%s %v", e.Type, e.Data))
		}
		return fmt.Errorf("no %s yet; got:\n%s", what, strings.Join(seen, "\n"))
	})
	return found
}

func webhookServer(t *testing.T, mutate func(*config.Config)) *harness.Server {
	return harness.Start(t, func(c *config.Config) {
		c.Webhooks = config.Webhooks{AllowPrivate: true, AllowHTTPHosts: []string{"127.0.0.1"},
			BackoffBase: 300 * time.Millisecond, BackoffMax: time.Second, Poll: 100 * time.Millisecond}
		if mutate != nil {
			mutate(c)
		}
	})
}

func createEndpoint(t *testing.T, s *harness.Server, url string, events ...string) (id, secret string) {
	t.Helper()
	r := s.Do(t, "POST", "/v1/webhook_endpoints", admin, map[string]any{"url": url, "events": events})
	require.Equal(t, 201, r.Status, string(r.Raw))
	return r.Body["id"].(string), r.Body["secret"].(string)
}

func field(e signedEvent, k string) string { s, _ := e.Data[k].(string); return s }

// A real desk phone (baresip) registering and quitting, and a browser
// session connecting and closing, reach a receiver as
// registration.changed; the users' presence moves as presence.changed.
func TestWebhooksRegistrationAndPresence(t *testing.T) {
	recv := &signedReceiver{t: t}
	hs := httptest.NewServer(recv)
	t.Cleanup(hs.Close)
	s := webhookServer(t, func(c *config.Config) { c.Signal.ReconnectGrace = 300 * time.Millisecond })
	_, secret := createEndpoint(t, s, hs.URL, "registration.changed", "presence.changed")
	recv.setSecrets(secret)

	desk := aliceDesk(t, s, harness.BaresipOptions{})
	reg := recv.waitFor(t, "alice's desk registered", func(e signedEvent) bool {
		return e.Type == "registration.changed" && field(e, "user_id") == string(s.Alice.ID) && field(e, "state") == "registered"
	})
	require.Equal(t, "sip", field(reg, "device"))
	require.Equal(t, "udp", field(reg, "transport"))
	require.Equal(t, desk.SIPAddr, field(reg, "source"))
	require.Contains(t, field(reg, "contact"), "127.0.0.1")
	require.Equal(t, string(s.Alice.AccountID), field(reg, "account_id"))
	require.NotEmpty(t, field(reg, "expires_at"))
	pres := recv.waitFor(t, "alice available", func(e signedEvent) bool {
		return e.Type == "presence.changed" && field(e, "user_id") == string(s.Alice.ID) && field(e, "status") == "available"
	})
	require.Equal(t, "offline", pres.Data["previous"].(map[string]any)["status"])
	require.Equal(t, "101", field(pres, "extension"))

	bob := s.Phone(t, s.Bob, 0, "")
	conn := recv.waitFor(t, "bob's browser session", func(e signedEvent) bool {
		return e.Type == "registration.changed" && field(e, "user_id") == string(s.Bob.ID) && field(e, "state") == "connected"
	})
	require.Equal(t, "browser", field(conn, "device"))
	require.Equal(t, "websocket", field(conn, "transport"))
	require.Equal(t, "127.0.0.1", field(conn, "source"))
	require.NotEmpty(t, field(conn, "session_id"))

	r := s.Do(t, "PUT", "/v1/me/presence", s.Token(t, s.Bob, time.Hour), map[string]any{"status_text": "in a meeting", "do_not_disturb": true})
	require.Equal(t, 200, r.Status, string(r.Raw))
	dnd := recv.waitFor(t, "bob's status text", func(e signedEvent) bool {
		return e.Type == "presence.changed" && field(e, "user_id") == string(s.Bob.ID) && field(e, "status_text") == "in a meeting"
	})
	require.Equal(t, true, dnd.Data["do_not_disturb"])
	require.Equal(t, "available", field(dnd, "status"))

	desk.Command(t, "quit", "") // baresip un-registers as it quits
	gone := recv.waitFor(t, "alice's desk gone", func(e signedEvent) bool {
		return e.Type == "registration.changed" && field(e, "user_id") == string(s.Alice.ID) && field(e, "state") != "registered"
	})
	require.Equal(t, "unregistered", field(gone, "state"))
	recv.waitFor(t, "alice offline", func(e signedEvent) bool {
		return e.Type == "presence.changed" && field(e, "user_id") == string(s.Alice.ID) && field(e, "status") == "offline"
	})

	require.NoError(t, bob.Close())
	closed := recv.waitFor(t, "bob's session closed", func(e signedEvent) bool {
		return e.Type == "registration.changed" && field(e, "user_id") == string(s.Bob.ID) && field(e, "state") == "closed"
	})
	require.Equal(t, field(conn, "session_id"), field(closed, "session_id"))
}

// After rotate_secret, deliveries carry two signatures (new and old) for
// the grace period; a receiver that knows either verifies them.
func TestWebhookSecretRotation(t *testing.T) {
	recv := &signedReceiver{t: t}
	hs := httptest.NewServer(recv)
	t.Cleanup(hs.Close)
	s := webhookServer(t, nil)
	ep, old := createEndpoint(t, s, hs.URL, "presence.changed")
	recv.setSecrets(old)
	bobToken := s.Token(t, s.Bob, time.Hour)
	setText := func(text string) signedEvent {
		r := s.Do(t, "PUT", "/v1/me/presence", bobToken, map[string]any{"status_text": text})
		require.Equal(t, 200, r.Status, string(r.Raw))
		return recv.waitFor(t, text, func(e signedEvent) bool { return field(e, "status_text") == text })
	}
	require.Equal(t, []string{old}, setText("before").Verified)

	r := s.Do(t, "POST", "/v1/webhook_endpoints/"+ep+"/rotate_secret", admin, nil)
	require.Equal(t, 200, r.Status, string(r.Raw))
	fresh := r.Body["secret"].(string)
	require.NotEqual(t, old, fresh)
	require.NotNil(t, r.Body["previous_secret_expires_at"])
	recv.setSecrets(old, fresh)
	require.Equal(t, []string{old, fresh}, setText("after").Verified, "both signatures during the grace period")
}

// The events stream sends a call's events in order with their ids; a
// client that drops mid-call and comes back with Last-Event-ID gets the
// rest, none missing, none twice; drain ends the stream with going_away.
func TestEventsStreamResumes(t *testing.T) {
	s := webhookServer(t, nil)
	url := s.URL() + "/v1/events?types=call.started,call.ringing,call.answered,call.ended"
	first := rest.OpenSSE(t, url, admin, "")
	require.Equal(t, 200, first.Status)
	t.Cleanup(first.Close)

	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	out, in := harness.Connected(t, alice, bob, "102")

	var got []rest.SSEEvent
	for range 2 {
		got = append(got, first.Next(t, 10*time.Second))
	}
	first.Close() // whatever it had buffered beyond the two is lost to it

	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, in, protocol.EndHangup)

	again := rest.OpenSSE(t, url, admin, got[len(got)-1].ID)
	require.Equal(t, 200, again.Status)
	t.Cleanup(again.Close)
	for got[len(got)-1].Event != "call.ended" {
		got = append(got, again.Next(t, 10*time.Second))
	}
	var types []string
	ids := map[string]bool{}
	for _, e := range got {
		types = append(types, e.Event)
		require.False(t, ids[e.ID], "event %s twice", e.ID)
		ids[e.ID] = true
		var body struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		require.NoError(t, json.Unmarshal([]byte(e.Data), &body))
		require.Equal(t, e.Event, body.Type)
		require.Equal(t, out.ID, body.Data["id"])
	}
	require.Equal(t, callEvents, types)

	// Drain: the stream ends with going_away; new streams are refused.
	ctx := harness.Ctx(t, 10*time.Second)
	require.NoError(t, s.Drain(ctx))
	require.Equal(t, "going_away", again.Next(t, 5*time.Second).Event)
	require.Equal(t, 503, rest.OpenSSE(t, url, admin, "").Status)
}

// A stream outlives the server's read and write timeouts (which bound
// ordinary requests): an event 1.5 s after opening still arrives with
// both at 500 ms.
func TestEventsStreamOutlivesWriteTimeout(t *testing.T) {
	s := webhookServer(t, func(c *config.Config) {
		c.HTTP.WriteTimeout, c.HTTP.ReadTimeout = 500*time.Millisecond, 500*time.Millisecond
	})
	st := rest.OpenSSE(t, s.URL()+"/v1/events?types=presence.changed", admin, "")
	require.Equal(t, 200, st.Status)
	t.Cleanup(st.Close)
	time.Sleep(1500 * time.Millisecond) // idle past both timeouts: what is tested is the passing of time
	r := s.Do(t, "PUT", "/v1/me/presence", s.Token(t, s.Bob, time.Hour), map[string]any{"status_text": "late"})
	require.Equal(t, 200, r.Status, string(r.Raw))
	ev := st.Next(t, 10*time.Second)
	require.Equal(t, "presence.changed", ev.Event)
	require.Contains(t, ev.Data, `"status_text":"late"`)
}
