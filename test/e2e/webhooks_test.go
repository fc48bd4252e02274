package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/webhook"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// hookReceiver is a webhook endpoint: it verifies every request's
// signature and keeps the events it accepted, in arrival order.
type hookReceiver struct {
	t      *testing.T
	secret atomic.Value // string
	status atomic.Int32 // what it answers; 0: never answers
	mu     sync.Mutex
	got    []hookEvent
	failed int      // requests answered with an error status
	hung   []string // ids of the requests left hanging
}

type hookEvent struct {
	ID, Type, CallID string
	Data             map[string]any
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id, tsHeader := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	secret, _ := h.secret.Load().(string)
	if err != nil || !webhook.Verify(secret, id, ts, body, r.Header.Get("webhook-signature")) ||
		time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		h.t.Errorf("bad signature on %s: %s %s", id, r.Header.Get("webhook-signature"), body)
		w.WriteHeader(400)
		return
	}
	status := int(h.status.Load())
	if status == 0 { // hang until the sender gives up (or dies)
		h.mu.Lock()
		h.hung = append(h.hung, id)
		h.mu.Unlock()
		<-r.Context().Done()
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if status != 200 {
		h.failed++
		w.WriteHeader(status)
		return
	}
	var ev struct {
		Type      string         `json:"type"`
		Timestamp string         `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	require.NoError(h.t, json.Unmarshal(body, &ev))
	callID, _ := ev.Data["id"].(string)
	h.got = append(h.got, hookEvent{ID: id, Type: ev.Type, CallID: callID, Data: ev.Data})
	w.WriteHeader(200)
}

// types returns the types of the distinct events received for call id,
// in order of first arrival.
func (h *hookReceiver) types(call string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, e := range h.got {
		if e.CallID == call && !seen[e.ID] {
			seen[e.ID] = true
			out = append(out, e.Type)
		}
	}
	return out
}

var callEvents = []string{"call.started", "call.ringing", "call.answered", "call.ended"}

// A real receiver gets every event of a call, signed and in order; while
// it answers 503 the events wait and retry, and arrive once it answers
// 200; a delivery can be sent again.
func TestWebhooksDeliverCallEvents(t *testing.T) {
	recv := &hookReceiver{t: t}
	recv.status.Store(200)
	hs := httptest.NewServer(recv)
	t.Cleanup(hs.Close)
	s := harness.Start(t, func(c *config.Config) {
		c.Webhooks = config.Webhooks{AllowPrivate: true, AllowHTTPHosts: []string{"127.0.0.1"},
			BackoffBase: 300 * time.Millisecond, BackoffMax: time.Second, Poll: 100 * time.Millisecond}
	})

	for _, bad := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"url": "ftp://127.0.0.1/x", "events": callEvents}, "url"},
		{map[string]any{"url": "http://example.com/x", "events": callEvents}, "url"},
		{map[string]any{"url": hs.URL, "events": []string{"call.nope"}}, "events"},
		{map[string]any{"url": hs.URL, "events": []string{}}, "events"},
		{map[string]any{"events": callEvents}, "url"},
	} {
		r := s.Do(t, "POST", "/v1/webhook_endpoints", admin, bad.body)
		require.Contains(t, []int{400, 422}, r.Status, string(r.Raw))
		require.Equal(t, bad.field, r.Body["details"].(map[string]any)["field"], string(r.Raw))
	}

	r := s.Do(t, "POST", "/v1/webhook_endpoints", admin, map[string]any{"url": hs.URL + "/hook",
		"events": append(callEvents, "call.transferred")})
	require.Equal(t, 201, r.Status, string(r.Raw))
	secret := r.Body["secret"].(string)
	require.Regexp(t, `^whsec_[A-Za-z0-9+/=]+$`, secret)
	recv.secret.Store(secret)
	ep := r.Body["id"].(string)
	got := s.Do(t, "GET", "/v1/webhook_endpoints/"+ep, admin, nil)
	require.Equal(t, 200, got.Status)
	require.NotContains(t, got.Body, "secret")

	alice := s.Phone(t, s.Alice, 440, audio.Opus)
	bob := s.Phone(t, s.Bob, 1000, audio.Opus)
	call := func() string {
		out, in := harness.Connected(t, alice, bob, "102")
		require.NoError(t, out.Hangup())
		harness.WaitEnded(t, in, protocol.EndHangup)
		return out.ID
	}

	first := call()
	harness.CheckFor(t, 10*time.Second, func() error {
		if got := recv.types(first); len(got) < len(callEvents) {
			return fmt.Errorf("events of %s so far: %v", first, got)
		}
		return nil
	})
	require.Equal(t, callEvents, recv.types(first))
	recv.mu.Lock()
	ended := recv.got[len(recv.got)-1]
	recv.mu.Unlock()
	require.Equal(t, "hangup", ended.Data["end_reason"])
	require.NotEmpty(t, ended.Data["ended_at"])
	require.Len(t, ended.Data["legs"], 2)

	// The receiver is down: events wait, retried with backoff, in order.
	recv.status.Store(503)
	second := call()
	harness.CheckFor(t, 10*time.Second, func() error {
		recv.mu.Lock()
		defer recv.mu.Unlock()
		if recv.failed < 3 {
			return fmt.Errorf("%d failed attempts", recv.failed)
		}
		return nil
	})
	require.Empty(t, recv.types(second))
	list := s.Do(t, "GET", "/v1/webhook_endpoints/"+ep+"/deliveries", admin, nil)
	require.Equal(t, 200, list.Status, string(list.Raw))
	var pending map[string]any
	for _, d := range list.Body["data"].([]any) {
		d := d.(map[string]any)
		if d["call_id"] == second && d["type"] == "call.started" {
			pending = d
		}
	}
	require.NotNil(t, pending, string(list.Raw))
	require.Equal(t, "pending", pending["status"])
	require.GreaterOrEqual(t, pending["attempts"].(float64), 1.0)
	require.Equal(t, "HTTP 503", pending["last_error"])
	require.NotNil(t, pending["next_attempt_at"])

	recv.status.Store(200)
	harness.CheckFor(t, 15*time.Second, func() error {
		if got := recv.types(second); len(got) < len(callEvents) {
			return fmt.Errorf("events of %s so far: %v", second, got)
		}
		return nil
	})
	require.Equal(t, callEvents, recv.types(second))

	// Redeliver the first call's call.ended: the same webhook-id again.
	var endedDelivery string
	for _, d := range s.Do(t, "GET", "/v1/webhook_endpoints/"+ep+"/deliveries", admin, nil).Body["data"].([]any) {
		d := d.(map[string]any)
		if d["call_id"] == first && d["type"] == "call.ended" {
			require.Equal(t, "delivered", d["status"])
			require.NotNil(t, d["delivered_at"])
			endedDelivery = d["id"].(string)
			require.Equal(t, ended.ID, d["event_id"])
		}
	}
	rd := s.Do(t, "POST", "/v1/webhook_endpoints/"+ep+"/deliveries/"+endedDelivery+"/redeliver", admin, nil)
	require.Equal(t, 202, rd.Status, string(rd.Raw))
	harness.CheckFor(t, 10*time.Second, func() error {
		recv.mu.Lock()
		defer recv.mu.Unlock()
		n := 0
		for _, e := range recv.got {
			if e.ID == ended.ID {
				n++
			}
		}
		if n < 2 {
			return fmt.Errorf("call.ended %s received %d times", ended.ID, n)
		}
		return nil
	})
	require.Equal(t, 404, s.Do(t, "POST", "/v1/webhook_endpoints/"+ep+"/deliveries/whd_nope/redeliver", admin, nil).Status)
	require.Equal(t, 200, s.Do(t, "DELETE", "/v1/webhook_endpoints/"+ep, admin, nil).Status)
}
