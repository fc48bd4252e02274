package call

import (
	"time"

	"github.com/switchboard-voice/switchboard/internal/store"
)

// Observer is told of every call's start, answer and end, for metrics.
// Its methods run on the call's actor goroutine: they must not block.
type Observer interface {
	CallStarted(direction string)
	CallAnswered(direction string, setup time.Duration)
	// CallEnded comes with the stats of every leg that was connected.
	CallEnded(direction string, reason EndReason, talked time.Duration, legs []store.LegStats)
	// CallRefused: a limit refused a new call (limit: socket, user, account).
	CallRefused(limit string)
}

// noObserver is the Observer when none is set.
type noObserver struct{}

func (noObserver) CallStarted(string)                                           {}
func (noObserver) CallAnswered(string, time.Duration)                           {}
func (noObserver) CallEnded(string, EndReason, time.Duration, []store.LegStats) {}
func (noObserver) CallRefused(string)                                           {}

// observer returns the manager's observer.
func (m *Manager) observer() Observer {
	if m.opt.Observer == nil {
		return noObserver{}
	}
	return m.opt.Observer
}

// logStarted, logAnswered and logEnded are the operator's view of a call:
// one INFO line each, with the call's and account's ids.
func (c *Call) logStarted() {
	rec := c.rec.record()
	c.m.log.Info("call started", "call_id", c.id, "account", c.account, "direction", rec.Direction,
		"from", rec.From, "to", rec.To)
	c.m.observer().CallStarted(rec.Direction)
	c.rec.emit(store.EventCallStarted)
}

func (c *Call) logAnswered(by string) {
	rec := c.rec.record()
	setup := c.answeredAt.Sub(rec.StartedAt)
	c.m.log.Info("call answered", "call_id", c.id, "account", c.account, "by", by, "setup", setup.Round(time.Millisecond))
	c.m.observer().CallAnswered(rec.Direction, setup)
	c.rec.emit(store.EventCallAnswered)
}

func (c *Call) logTransfer() {
	c.m.log.Info("call transferred", "call_id", c.id, "account", c.account, "transfer", c.rec.record().Transfer)
	c.rec.emit(store.EventCallTransferred)
}

func (c *Call) logEnded(reason EndReason) {
	var talked time.Duration
	if !c.answeredAt.IsZero() {
		talked = time.Since(c.answeredAt)
	}
	rec := c.rec.record()
	c.m.log.Info("call ended", "call_id", c.id, "account", c.account, "reason", reason,
		"talked", talked.Round(time.Second), "legs", len(rec.Legs))
	c.m.observer().CallEnded(rec.Direction, reason, talked, rec.Legs)
}
