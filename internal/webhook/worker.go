package webhook

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-voice/switchboard/internal/store"
)

// Options tune the worker; zero values take the defaults.
type Options struct {
	AllowPrivate bool          // deliver to loopback/private targets (tests, labs)
	BackoffBase  time.Duration // first retry delay: 10 s
	BackoffMax   time.Duration // retry delay cap: 1 h
	Poll         time.Duration // how often the outbox is read: 1 s
	Timeout      time.Duration // per attempt: 10 s
	Concurrency  int           // attempts in flight, all endpoints: 8
	// PerEndpoint caps one endpoint's attempts in flight (2), so a slow
	// or dead endpoint holds at most that many of Concurrency's slots.
	PerEndpoint int
	// DeliveryRetention keeps finished deliveries (7 d), EventRetention
	// the event log the events stream replays (24 h); both are pruned
	// every PruneEvery (10 min).
	DeliveryRetention time.Duration
	EventRetention    time.Duration
	PruneEvery        time.Duration
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.BackoffBase, 10*time.Second)
	def(&o.BackoffMax, time.Hour)
	def(&o.Poll, time.Second)
	def(&o.Timeout, 10*time.Second)
	def(&o.DeliveryRetention, 7*24*time.Hour)
	def(&o.EventRetention, 24*time.Hour)
	def(&o.PruneEvery, 10*time.Minute)
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.PerEndpoint <= 0 {
		o.PerEndpoint = 2
	}
	return o
}

// Backoff is the delay before retry after the attempts-th failed attempt:
// base × 2^(attempts-1), capped at max.
func Backoff(base, max time.Duration, attempts int) time.Duration {
	d := base
	for i := 1; i < attempts && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// Worker drains the outbox: one goroutine, started by Start and ended by
// Stop, reads due rows (a call's events in order) and starts one attempt
// goroutine per row, at most Concurrency in all and PerEndpoint per
// endpoint; it does not wait for a batch to finish, so an endpoint that
// hangs until Timeout delays only its own deliveries. It also prunes the
// outbox and the event log.
type Worker struct {
	st     store.WebhookOutbox
	opt    Options
	log    *slog.Logger
	client *http.Client
	now    func() time.Time

	mu        sync.Mutex
	inflight  map[string]struct{} // delivery ids being attempted
	busy      map[string]int      // attempts in flight by endpoint
	attempts  sync.WaitGroup
	delivered atomic.Int64
	kick      chan struct{} // an attempt finished: read the outbox again
	lastPrune time.Time

	cancel context.CancelFunc
	done   chan struct{}
}

// NewWorker returns a worker on st; Start runs it.
func NewWorker(st store.WebhookOutbox, opt Options, log *slog.Logger) *Worker {
	opt = opt.withDefaults()
	dial := &guardedDialer{allowPrivate: opt.AllowPrivate, dialer: net.Dialer{Timeout: opt.Timeout}, resolver: net.DefaultResolver}
	tr := &http.Transport{Proxy: nil, DialContext: dial.DialContext, DisableKeepAlives: true,
		TLSHandshakeTimeout: opt.Timeout, ResponseHeaderTimeout: opt.Timeout}
	client := &http.Client{Transport: tr, Timeout: opt.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &Worker{st: st, opt: opt, log: log, client: client, now: time.Now,
		inflight: map[string]struct{}{}, busy: map[string]int{}, kick: make(chan struct{}, 1)}
}

// Start runs the worker's goroutine until Stop.
func (w *Worker) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan struct{})
	go func() {
		defer close(w.done)
		w.run(ctx)
	}()
}

// Stop ends the worker and waits for it; attempts in flight are cut and
// stay pending (delivered again after a restart: at-least-once).
func (w *Worker) Stop() {
	if w.cancel == nil {
		return
	}
	w.cancel()
	<-w.done
	w.client.CloseIdleConnections()
}

const batch = 32

func (w *Worker) run(ctx context.Context) {
	defer w.attempts.Wait()
	t := time.NewTicker(w.opt.Poll)
	defer t.Stop()
	for {
		w.dispatch(ctx)
		w.maybePrune(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.kick:
		}
	}
}

// Drain makes one attempt on each due delivery (at most a batch), waits
// for them and returns how many succeeded.
func (w *Worker) Drain(ctx context.Context) int {
	before := w.delivered.Load()
	w.dispatch(ctx)
	w.attempts.Wait()
	return int(w.delivered.Load() - before)
}

// dispatch starts an attempt on each due delivery there is room for.
func (w *Worker) dispatch(ctx context.Context) {
	w.mu.Lock()
	var skip []string
	total := 0
	for ep, n := range w.busy {
		total += n
		if n >= w.opt.PerEndpoint {
			skip = append(skip, ep)
		}
	}
	w.mu.Unlock()
	if total >= w.opt.Concurrency {
		return
	}
	due, err := w.st.DueWebhookDeliveries(ctx, store.DueQuery{Now: w.now(), Limit: batch, PerEndpoint: w.opt.PerEndpoint, Skip: skip})
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error("webhook outbox", "err", err)
		}
		return
	}
	for _, d := range due {
		if !w.claim(d, &total) {
			continue
		}
		w.attempts.Add(1)
		go func() {
			defer w.attempts.Done()
			if w.attempt(ctx, d) {
				w.delivered.Add(1)
			}
			w.release(d)
		}()
	}
}

// claim marks d in flight unless it already is or there is no room.
func (w *Worker) claim(d store.WebhookDelivery, total *int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.inflight[d.ID]; ok || w.busy[d.EndpointID] >= w.opt.PerEndpoint || *total >= w.opt.Concurrency {
		return false
	}
	w.inflight[d.ID] = struct{}{}
	w.busy[d.EndpointID]++
	*total++
	return true
}

func (w *Worker) release(d store.WebhookDelivery) {
	w.mu.Lock()
	delete(w.inflight, d.ID)
	if w.busy[d.EndpointID]--; w.busy[d.EndpointID] <= 0 {
		delete(w.busy, d.EndpointID)
	}
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// maybePrune prunes the outbox and the event log every PruneEvery.
func (w *Worker) maybePrune(ctx context.Context) {
	m, ok := w.st.(store.WebhookMaintenance)
	now := w.now()
	if !ok || now.Sub(w.lastPrune) < w.opt.PruneEvery {
		return
	}
	w.lastPrune = now
	r, err := m.PruneWebhooks(ctx, now, now.Add(-w.opt.DeliveryRetention), now.Add(-w.opt.EventRetention))
	switch {
	case err != nil && ctx.Err() == nil:
		w.log.Error("webhook prune", "err", err)
	case r != store.PruneResult{}:
		w.log.Info("webhook prune", "deliveries", r.Deliveries, "expired", r.Expired, "events", r.Events)
	}
}

// attempt POSTs d once and records the outcome.
func (w *Worker) attempt(ctx context.Context, d store.WebhookDelivery) bool {
	err := w.post(ctx, d)
	if ctx.Err() != nil {
		return false // shutting down: the row stays as it was
	}
	at := w.now().UTC()
	a := store.WebhookAttempt{Delivered: err == nil, At: at}
	if err != nil {
		a.Err = err.Error()
		if next := at.Add(Backoff(w.opt.BackoffBase, w.opt.BackoffMax, d.Attempts+1)); next.Before(d.ExpiresAt) {
			a.Next = next
		}
		w.log.Warn("webhook delivery failed", "delivery", d.ID, "event", d.EventID, "type", d.Type,
			"attempts", d.Attempts+1, "retry_at", a.Next, "err", err)
	}
	if err := w.st.FinishWebhookAttempt(context.WithoutCancel(ctx), d.ID, a); err != nil {
		w.log.Error("webhook outbox", "delivery", d.ID, "err", err)
		return false
	}
	return a.Delivered
}

// post sends d signed; any 2xx is success.
func (w *Worker) post(ctx context.Context, d store.WebhookDelivery) error {
	now := w.now()
	ts := now.Unix()
	sig, err := Sign(d.Secret, d.EventID, ts, d.Payload)
	if err != nil {
		return err
	}
	if d.PreviousSecret != "" && now.Before(d.PreviousUntil) {
		// A rotation's grace period: both signatures (Standard Webhooks
		// allows a space-separated list); a receiver checks either.
		if old, err := Sign(d.PreviousSecret, d.EventID, ts, d.Payload); err == nil {
			sig += " " + old
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, strings.NewReader(string(d.Payload)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Switchboard-Webhooks/1")
	req.Header.Set("webhook-id", d.EventID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}
