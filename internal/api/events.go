package api

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/internal/webhook"
)

// EventStreams holds the open GET /v1/events streams: at most Max per
// account; Close ends them all (drain, shutdown) and refuses new ones.
type EventStreams struct {
	Bell      *webhook.Bell // rung after events are written; nil: poll only
	Max       int           // per account; 0: 5
	Heartbeat time.Duration // ": ping" comment interval; 0: 15 s
	Poll      time.Duration // reads the log without a ring (other writers); 0: 1 s

	mu     sync.Mutex
	open   map[ident.AccountID]int
	closed bool
	stop   chan struct{}
	wg     sync.WaitGroup
}

// NewEventStreams returns an empty set of streams.
func NewEventStreams(bell *webhook.Bell, max int) *EventStreams {
	return &EventStreams{Bell: bell, Max: max, open: map[ident.AccountID]int{}, stop: make(chan struct{})}
}

// Close ends every stream (each gets a going_away event) and waits for
// their handlers to return; new streams are refused with 503. Idempotent.
func (s *EventStreams) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.stop)
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Open counts the open streams of every account.
func (s *EventStreams) Open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.open {
		n += c
	}
	return n
}

func (s *EventStreams) acquire(acct ident.AccountID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return apiErr(http.StatusServiceUnavailable, "draining", "the server is draining: reconnect to another server")
	}
	if s.open[acct] >= s.max() {
		return apiErr(http.StatusTooManyRequests, "too_many_streams", "account %s has %d event streams open (the most allowed)", acct, s.max())
	}
	s.open[acct]++
	s.wg.Add(1)
	return nil
}

func (s *EventStreams) release(acct ident.AccountID) {
	s.mu.Lock()
	if s.open[acct]--; s.open[acct] <= 0 {
		delete(s.open, acct)
	}
	s.mu.Unlock()
	s.wg.Done()
}

func (s *EventStreams) max() int {
	if s.Max <= 0 {
		return 5
	}
	return s.Max
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// eventIDPattern is what an event id looks like (Last-Event-ID is
// checked against it before it reaches the store).
var eventIDPattern = regexp.MustCompile(`^evt_[a-z0-9]{1,60}$`)

// writeWindow is how long one write to a stream may take before the
// client counts as gone (the server's WriteTimeout does not apply).
const writeWindow = 30 * time.Second

// replayBatch is how many events one read of the log returns.
const replayBatch = 200

// streamRequest is a validated GET /v1/events.
type streamRequest struct {
	acct  ident.AccountID
	types []string
	after int64
	reset bool // Last-Event-ID was not found: replaying all retained
}

// serveEvents serves GET /v1/events: the account's events as Server-Sent
// Events (protocol docs: "Events stream").
func (a *API) serveEvents(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		a.writeErr(w, r, apiErr(http.StatusMethodNotAllowed, "method_not_allowed", "%s is not allowed here", r.Method))
		return
	}
	var req streamRequest
	_, _, err := a.admin(func(r *http.Request) (int, any, error) {
		var err error
		req, err = a.streamRequest(r)
		return 0, nil, err
	})(r)
	if err == nil {
		err = a.Streams.acquire(req.acct)
	}
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	defer a.Streams.release(req.acct)
	a.stream(w, r, req)
}

func (a *API) streamRequest(r *http.Request) (streamRequest, error) {
	var req streamRequest
	log, ok := a.Store.(store.EventLog)
	if !ok || a.Streams == nil {
		return req, apiErr(http.StatusNotImplemented, "not_implemented", "this server keeps no event log")
	}
	var err error
	if req.acct, err = a.requestAccount(r); err != nil {
		return req, err
	}
	if t := r.URL.Query().Get("types"); t != "" {
		for _, typ := range strings.Split(t, ",") {
			typ = strings.TrimSpace(typ)
			if !slices.Contains(store.WebhookEventTypes, typ) {
				return req, unprocessable("types", "invalid_types", "unknown event type %q (want %s)", typ, strings.Join(store.WebhookEventTypes, ", "))
			}
			req.types = append(req.types, typ)
		}
	}
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("last_event_id") // for clients that cannot set headers
	}
	if last == "" {
		req.after, err = log.LastEventSeq(r.Context(), req.acct)
		return req, err
	}
	if !eventIDPattern.MatchString(last) {
		return req, badField("last_event_id", "invalid_last_event_id", "Last-Event-ID must be an event id (evt_…)")
	}
	req.after, err = log.EventSeq(r.Context(), req.acct, last)
	if errors.Is(err, store.ErrNotFound) {
		req.after, req.reset, err = 0, true, nil
	}
	return req, err
}

// stream writes events after req.after until the client goes, the server
// drains or stops.
func (a *API) stream(w http.ResponseWriter, r *http.Request, req streamRequest) {
	log := a.Store.(store.EventLog)
	rc := http.NewResponseController(w)
	// The server's read and write timeouts are for ordinary requests: a
	// stream lives on, each write with its own deadline (write), and reads
	// nothing after its request (as httplimit.Upgrades does for sockets).
	_ = rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	head := "retry: 3000\n\n"
	if req.reset {
		head += ": Last-Event-ID is unknown or pruned: replaying every retained event\n\n"
	}
	if !a.write(w, rc, head) {
		return
	}
	beat := time.NewTicker(orDefault(a.Streams.Heartbeat, 15*time.Second))
	defer beat.Stop()
	poll := time.NewTicker(orDefault(a.Streams.Poll, time.Second))
	defer poll.Stop()
	after := req.after
	for {
		var rung <-chan struct{}
		if a.Streams.Bell != nil {
			rung = a.Streams.Bell.Wait() // before reading: a ring after the read is not missed
		}
		events, err := log.EventsAfter(r.Context(), req.acct, after, req.types, replayBatch)
		if err != nil {
			if r.Context().Err() == nil {
				a.Log.Error("events stream", "account", req.acct, "err", err)
			}
			return
		}
		if len(events) > 0 {
			var b strings.Builder
			for _, e := range events {
				fmt.Fprintf(&b, "id: %s\nevent: %s\ndata: %s\n\n", e.ID, e.Type, e.Payload)
				after = e.Seq
			}
			if !a.write(w, rc, b.String()) {
				return
			}
			if len(events) == replayBatch {
				continue
			}
		}
		select {
		case <-r.Context().Done():
			return
		case <-a.Streams.stop:
			a.write(w, rc, "event: going_away\ndata: {\"reason\":\"server is draining or stopping: reconnect with Last-Event-ID\"}\n\n")
			return
		case <-beat.C:
			if !a.write(w, rc, ": ping\n\n") {
				return
			}
		case <-rung:
		case <-poll.C:
		}
	}
}

// write sends s and flushes it within writeWindow; false: the client is
// gone.
func (a *API) write(w http.ResponseWriter, rc *http.ResponseController, s string) bool {
	_ = rc.SetWriteDeadline(time.Now().Add(writeWindow))
	if _, err := w.Write([]byte(s)); err != nil {
		return false
	}
	return rc.Flush() == nil
}
