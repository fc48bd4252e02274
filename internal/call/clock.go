package call

import "time"

// Clock makes the timers of call actors (ring times, answer waits,
// checkpoints). Tests drive a fake one; nil in Options is the real clock.
type Clock interface {
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc (a *time.Timer on the real clock).
type Timer interface {
	Stop() bool
	Reset(d time.Duration) bool
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
