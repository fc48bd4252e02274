package webhook

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// Bell wakes the events streams when events were written: Wait returns a
// channel that is closed by the next Ring.
type Bell struct {
	mu sync.Mutex
	ch chan struct{}
}

// NewBell returns a bell nobody waits on yet.
func NewBell() *Bell { return &Bell{ch: make(chan struct{})} }

// Wait returns a channel closed at the next Ring.
func (b *Bell) Wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ch
}

// Ring wakes every waiter.
func (b *Bell) Ring() {
	b.mu.Lock()
	close(b.ch)
	b.ch = make(chan struct{})
	b.mu.Unlock()
}

// EmitterStore is what the emitter writes to: the outbox, and users to
// find the account of an event that names only its user.
type EmitterStore interface {
	store.WebhookEvents
	GetUser(ctx context.Context, id ident.UserID) (*store.User, error)
}

// queued is one event waiting for the writer; an empty AccountID is
// looked up from user, and fill (when set) completes the event from the
// user's record.
type queued struct {
	ev   store.WebhookEvent
	user ident.UserID
	fill func(*store.WebhookEvent, *store.User)
}

// writeTimeout bounds one store write of the emitter.
const writeTimeout = 10 * time.Second

// Emitter writes events raised where nobody may wait on the store (the
// SIP registrar, the presence notifier) to the outbox: Emit puts them on
// a bounded queue and returns at once; one writer goroutine writes them
// in order. When the queue is full (the store is slower than the events
// come, for longer than the queue lasts) Emit drops the event and counts
// it: these events describe a state that the next event, or the REST API,
// restates, so losing one under overload is preferred to stalling SIP.
type Emitter struct {
	st      EmitterStore
	log     *slog.Logger
	bell    *Bell
	q       chan queued
	dropped atomic.Int64
	lastLog atomic.Int64 // unix ns of the last drop warning

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// NewEmitter returns an emitter with a queue of size events; bell (may be
// nil) rings after each write. Start runs its writer.
func NewEmitter(st EmitterStore, size int, bell *Bell, log *slog.Logger) *Emitter {
	if size <= 0 {
		size = 4096
	}
	return &Emitter{st: st, log: log, bell: bell, q: make(chan queued, size),
		stop: make(chan struct{}), done: make(chan struct{})}
}

// Start runs the writer until Stop.
func (e *Emitter) Start() { go e.run() }

// Stop writes what is queued (each write bounded by writeTimeout) and
// ends the writer. It is idempotent; Emit after Stop drops.
func (e *Emitter) Stop() {
	e.once.Do(func() { close(e.stop) })
	<-e.done
}

// Dropped counts the events Emit dropped on a full queue.
func (e *Emitter) Dropped() int64 { return e.dropped.Load() }

// Emit queues ev (of user, whose account is looked up when ev has none;
// fill, if set, then completes ev from the user's record) and reports
// whether it was taken. It never blocks.
func (e *Emitter) Emit(ev store.WebhookEvent, user ident.UserID, fill func(*store.WebhookEvent, *store.User)) bool {
	if ev.ID == "" {
		ev.ID = NewEventID()
	}
	if ev.At.IsZero() {
		ev.At = time.Now().UTC()
	}
	select {
	case <-e.stop:
		return false
	default:
	}
	select {
	case e.q <- queued{ev: ev, user: user, fill: fill}:
		return true
	default:
		n := e.dropped.Add(1)
		if now := time.Now().UnixNano(); now-e.lastLog.Load() > int64(10*time.Second) {
			e.lastLog.Store(now)
			e.log.Warn("webhook events dropped: the store is not keeping up", "type", ev.Type, "dropped_total", n)
		}
		return false
	}
}

// NewEventID returns a fresh event id.
func NewEventID() string { return "evt_" + ident.Short() + ident.Short() }

func (e *Emitter) run() {
	defer close(e.done)
	for {
		select {
		case q := <-e.q:
			e.write(q)
		case <-e.stop:
			for {
				select {
				case q := <-e.q:
					e.write(q)
				default:
					return
				}
			}
		}
	}
}

func (e *Emitter) write(q queued) {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if q.ev.AccountID == "" {
		u, err := e.st.GetUser(ctx, q.user)
		if err != nil {
			e.log.Warn("webhook event: no account", "type", q.ev.Type, "user", q.user, "err", err)
			return
		}
		q.ev.AccountID = u.AccountID
		if q.fill != nil {
			q.fill(&q.ev, u)
		}
	}
	if err := e.st.AppendWebhookEvent(ctx, q.ev); err != nil {
		e.log.Error("webhook event", "type", q.ev.Type, "err", err)
		return
	}
	if e.bell != nil {
		e.bell.Ring()
	}
}
