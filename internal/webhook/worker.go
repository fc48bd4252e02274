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
	Concurrency  int           // attempts in flight: 8
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
	if o.Concurrency <= 0 {
		o.Concurrency = 8
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
// Stop, delivering due rows (a call's events in order) with retries.
type Worker struct {
	st     store.WebhookOutbox
	opt    Options
	log    *slog.Logger
	client *http.Client
	now    func() time.Time

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
	return &Worker{st: st, opt: opt, log: log, client: client, now: time.Now}
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
	t := time.NewTicker(w.opt.Poll)
	defer t.Stop()
	for {
		if w.Drain(ctx) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			return
		}
	}
}

// Drain makes one attempt on each due delivery (at most a batch) and
// returns how many succeeded, so a call's next event can go at once.
func (w *Worker) Drain(ctx context.Context) int {
	due, err := w.st.DueWebhookDeliveries(ctx, w.now(), batch)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error("webhook outbox", "err", err)
		}
		return 0
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	sem := make(chan struct{}, w.opt.Concurrency)
	for _, d := range due {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if w.attempt(ctx, d) {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return ok
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
	ts := w.now().Unix()
	sig, err := Sign(d.Secret, d.EventID, ts, d.Payload)
	if err != nil {
		return err
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
