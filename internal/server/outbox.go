package server

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/switchboard-voice/switchboard/internal/cluster"
)

// outboxDepth bounds the messages waiting for one node.
const outboxDepth = 1024

// outbox sends requests to other nodes without blocking the sender, in
// order per destination node: one goroutine per node sends its queue one
// request at a time. close stops them all.
type outbox struct {
	node *cluster.Node
	log  *slog.Logger
	ctx  context.Context
	stop context.CancelFunc

	mu     sync.Mutex
	queues map[string]chan outMsg
	closed bool
	wg     sync.WaitGroup
}

type outMsg struct {
	subject string
	body    any
	failed  func(error) // nil: failures are only logged
	// done, when set, makes the message a barrier: closed once every
	// message queued before it has been sent (nothing is sent for it).
	done chan struct{}
}

func newOutbox(node *cluster.Node, log *slog.Logger) *outbox {
	ctx, stop := context.WithCancel(context.Background())
	return &outbox{node: node, log: log, ctx: ctx, stop: stop, queues: map[string]chan outMsg{}}
}

// send queues a request to subject on node to; failed hears why it failed
// (on the queue's goroutine). A full queue drops the message.
func (o *outbox) send(to, subject string, body any, failed func(error)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		o.notSent(failed)
		return
	}
	q, ok := o.queues[to]
	if !ok {
		q = make(chan outMsg, outboxDepth)
		o.queues[to] = q
		o.wg.Add(1)
		go o.run(q)
	}
	select {
	case q <- outMsg{subject: subject, body: body, failed: failed}:
	default:
		o.log.Warn("cluster: relay queue full, message dropped", "node", to, "subject", subject)
		o.notSent(failed)
	}
}

// errNotSent is what failed hears of a message the outbox dropped.
var errNotSent = errors.New("cluster: relay message dropped (queue full or closed)")

// notSent tells failed (if any) that its message was dropped, off the
// caller's goroutine (which holds the outbox's lock).
func (o *outbox) notSent(failed func(error)) {
	if failed != nil {
		go failed(errNotSent)
	}
}

// flushed waits until what is queued for node to has been sent, or d
// has passed.
func (o *outbox) flushed(to string, d time.Duration) {
	done := make(chan struct{})
	o.mu.Lock()
	q, ok := o.queues[to]
	if !ok || o.closed {
		o.mu.Unlock()
		return
	}
	select {
	case q <- outMsg{done: done}:
	default:
		o.mu.Unlock()
		return
	}
	o.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

func (o *outbox) run(q chan outMsg) {
	defer o.wg.Done()
	for m := range q {
		if m.done != nil {
			close(m.done)
			continue
		}
		if o.ctx.Err() != nil {
			continue // stopped: drop the rest
		}
		ctx, cancel := context.WithTimeout(o.ctx, relayTimeout)
		_, err := cluster.Request[struct{}](ctx, o.node, m.subject, m.body)
		cancel()
		if err != nil && o.ctx.Err() == nil {
			if m.failed != nil {
				m.failed(err)
			} else {
				o.log.Warn("cluster: relay", "subject", m.subject, "err", err)
			}
		}
	}
}

// flushTimeout bounds how long close sends what is queued (the last
// call.ended frames of a node shutting down).
const flushTimeout = 2 * time.Second

// close takes no more messages, sends what is queued for up to
// flushTimeout, drops the rest and stops the goroutines.
func (o *outbox) close() {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.closed = true
	for _, q := range o.queues {
		close(q)
	}
	o.mu.Unlock()
	done := make(chan struct{})
	go func() { o.wg.Wait(); close(done) }()
	t := time.NewTimer(flushTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		o.log.Warn("cluster: relay queues not flushed in time: the rest is dropped")
	}
	o.stop()
	<-done
}
