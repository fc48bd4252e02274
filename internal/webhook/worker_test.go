package webhook

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/leakcheck"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// fakeOutbox holds deliveries in memory.
type fakeOutbox struct {
	store.WebhookEvents
	mu       sync.Mutex
	rows     []store.WebhookDelivery
	attempts []store.WebhookAttempt
}

func (f *fakeOutbox) DueWebhookDeliveries(_ context.Context, q store.DueQuery) ([]store.WebhookDelivery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.WebhookDelivery
	per := map[string]int{}
	for _, d := range f.rows {
		if d.Status != store.DeliveryPending || d.NextAttemptAt.After(q.Now) || len(out) >= q.Limit ||
			slices.Contains(q.Skip, d.EndpointID) || (q.PerEndpoint > 0 && per[d.EndpointID] >= q.PerEndpoint) {
			continue
		}
		per[d.EndpointID]++
		out = append(out, d)
	}
	return out, nil
}

func (f *fakeOutbox) FinishWebhookAttempt(_ context.Context, id string, a store.WebhookAttempt) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts = append(f.attempts, a)
	for i := range f.rows {
		if f.rows[i].ID == id {
			d := &f.rows[i]
			d.Attempts++
			switch {
			case a.Delivered:
				d.Status = store.DeliveryDelivered
			case a.Next.IsZero():
				d.Status = store.DeliveryFailed
			default:
				d.NextAttemptAt = a.Next
			}
		}
	}
	return nil
}

func (f *fakeOutbox) ListWebhookDeliveries(context.Context, string, int) ([]store.WebhookDelivery, error) {
	return nil, nil
}

func (f *fakeOutbox) RedeliverWebhook(context.Context, string, string, time.Time, time.Time) (*store.WebhookDelivery, error) {
	return nil, nil
}

func (f *fakeOutbox) status() (string, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rows[0].Status, f.rows[0].Attempts
}

// The worker signs, retries a 503 with backoff, stops at a 2xx, and
// fails a delivery whose retry would fall past its expiry.
func TestWorkerRetriesUntilDelivered(t *testing.T) {
	defer leakcheck.None(t)
	secret := NewSecret()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
		if !Verify(secret, r.Header.Get("webhook-id"), ts, body, r.Header.Get("webhook-signature")) || r.Header.Get("webhook-id") != "evt_1" {
			w.WriteHeader(400)
			return
		}
		if calls.Add(1) < 3 {
			w.WriteHeader(503)
			return
		}
		w.WriteHeader(204)
	}))
	defer srv.Close()
	now := time.Now()
	f := &fakeOutbox{rows: []store.WebhookDelivery{{ID: "whd_1", EventID: "evt_1", URL: srv.URL, Secret: secret,
		Payload: []byte(`{"type":"call.started"}`), Status: store.DeliveryPending, NextAttemptAt: now, ExpiresAt: now.Add(time.Hour)}}}
	w := NewWorker(f, Options{AllowPrivate: true, BackoffBase: 20 * time.Millisecond, Poll: 10 * time.Millisecond},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	w.Start()
	defer w.Stop()
	require.Eventually(t, func() bool { s, _ := f.status(); return s == store.DeliveryDelivered }, 5*time.Second, 10*time.Millisecond)
	_, n := f.status()
	require.Equal(t, 3, n)
	f.mu.Lock()
	require.Equal(t, "HTTP 503", f.attempts[0].Err)
	require.False(t, f.attempts[0].Next.IsZero())
	f.mu.Unlock()
}

func TestWorkerFailsAfterExpiryAndRefusesLoopback(t *testing.T) {
	defer leakcheck.None(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	defer srv.Close()
	now := time.Now()
	f := &fakeOutbox{rows: []store.WebhookDelivery{{ID: "whd_1", EventID: "evt_1", URL: srv.URL, Secret: NewSecret(),
		Payload: []byte(`{}`), Status: store.DeliveryPending, NextAttemptAt: now, ExpiresAt: now.Add(time.Second)}}}
	w := NewWorker(f, Options{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.Equal(t, 0, w.Drain(context.Background()))
	s, n := f.status()
	require.Equal(t, store.DeliveryFailed, s, "the 10-s retry falls past the expiry")
	require.Equal(t, 1, n)
	require.Contains(t, f.attempts[0].Err, "loopback")
	w.client.CloseIdleConnections()
}

// An endpoint that hangs until the attempt timeout holds only its own
// slots: a healthy endpoint's deliveries, queued behind it, go out at
// once. A rotated secret's grace period sends both signatures.
func TestWorkerSlowEndpointDoesNotDelayOthers(t *testing.T) {
	defer leakcheck.None(t)
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	newSecret, oldSecret := NewSecret(), NewSecret()
	var got atomic.Int32
	var bothSigned atomic.Bool
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
		id, sig := r.Header.Get("webhook-id"), r.Header.Get("webhook-signature")
		bothSigned.Store(Verify(newSecret, id, ts, body, sig) && Verify(oldSecret, id, ts, body, sig) &&
			len(strings.Fields(sig)) == 2)
		got.Add(1)
	}))
	defer ok.Close()
	now := time.Now()
	f := &fakeOutbox{}
	for i := range 20 { // the hanging endpoint's backlog comes first
		f.rows = append(f.rows, store.WebhookDelivery{ID: "whd_h" + strconv.Itoa(i), EndpointID: "we_hang", EventID: "evt_h" + strconv.Itoa(i),
			URL: hang.URL, Secret: NewSecret(), Payload: []byte(`{}`), Status: store.DeliveryPending, NextAttemptAt: now, ExpiresAt: now.Add(time.Hour)})
	}
	for i := range 3 {
		f.rows = append(f.rows, store.WebhookDelivery{ID: "whd_ok" + strconv.Itoa(i), EndpointID: "we_ok", EventID: "evt_ok" + strconv.Itoa(i),
			URL: ok.URL, Secret: newSecret, PreviousSecret: oldSecret, PreviousUntil: now.Add(time.Hour),
			Payload: []byte(`{}`), Status: store.DeliveryPending, NextAttemptAt: now, ExpiresAt: now.Add(time.Hour)})
	}
	w := NewWorker(f, Options{AllowPrivate: true, Timeout: 30 * time.Second, Poll: 10 * time.Millisecond, Concurrency: 4},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	start := time.Now()
	w.Start()
	defer w.Stop()
	require.Eventually(t, func() bool { return got.Load() == 3 }, 5*time.Second, 10*time.Millisecond)
	require.Less(t, time.Since(start), 5*time.Second)
	require.True(t, bothSigned.Load(), "both the new and the rotated-out secret sign during the grace period")
	w.mu.Lock()
	require.LessOrEqual(t, w.busy["we_hang"], 2, "the hanging endpoint holds at most PerEndpoint slots")
	w.mu.Unlock()
}
