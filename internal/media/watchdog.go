package media

import (
	"sync"
	"sync/atomic"
	"time"
)

// Why a watchdog declared a leg's media dead.
const (
	CauseNoMedia   = "no media"   // no RTP and no RTCP for the timeout
	CauseICEFailed = "ice failed" // ICE (or DTLS) reached the failed state
)

// Watchdog declares a leg's media dead, once: when the leg has been idle
// for longer than the timeout while it is expected to send, or at once on
// Fail. It polls rather than resetting a timer per packet, so the packet
// path only stores a timestamp. It is the one mechanism behind every leg
// kind: WebRTC endpoints (Watch), and SIP legs through internal/sipua.
type Watchdog struct {
	timeout time.Duration
	idle    IdleFunc
	onDead  func(cause string, idle time.Duration)

	mu    sync.Mutex
	timer *time.Timer
	done  bool
}

// IdleFunc reports how long a leg's media has been idle and whether it is
// expected to send at all (false for a leg whose own description holds or
// says it will not send: its silence is not a failure).
type IdleFunc func() (idle time.Duration, expected bool)

// NewWatchdog starts watching. onDead runs at most once, on its own
// goroutine, unless Stop comes first. A timeout of 0 or less watches for
// Fail only.
func NewWatchdog(timeout time.Duration, idle IdleFunc, onDead func(cause string, idle time.Duration)) *Watchdog {
	w := &Watchdog{timeout: timeout, idle: idle, onDead: onDead}
	if timeout > 0 {
		w.mu.Lock()
		w.timer = time.AfterFunc(w.every(), w.tick)
		w.mu.Unlock()
	}
	return w
}

// every is the polling period: a quarter of the timeout, so a dead leg is
// noticed within 1.25 timeouts, bounded for tiny and huge timeouts.
func (w *Watchdog) every() time.Duration {
	return min(max(w.timeout/4, 50*time.Millisecond), 5*time.Second)
}

// dead is the decision: idle past the timeout while expected to send.
func (w *Watchdog) dead() (bool, time.Duration) {
	idle, expected := w.idle()
	return expected && idle > w.timeout, idle
}

func (w *Watchdog) tick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	if dead, idle := w.dead(); dead {
		w.fireLocked(CauseNoMedia, idle)
		return
	}
	w.timer = time.AfterFunc(w.every(), w.tick)
}

// Fail declares the media dead now (ICE failed), unless it already was or
// the watch stopped.
func (w *Watchdog) Fail(cause string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	idle, _ := w.idle()
	w.fireLocked(cause, idle)
}

func (w *Watchdog) fireLocked(cause string, idle time.Duration) {
	w.done = true
	if w.timer != nil {
		w.timer.Stop()
	}
	go w.onDead(cause, idle)
}

// Stop ends the watch for good; it is idempotent.
func (w *Watchdog) Stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
	if w.timer != nil {
		w.timer.Stop()
	}
}

// activity is the time media (RTP or RTCP) last arrived, written from the
// packet path without locks.
type activity struct{ last atomic.Int64 } // unix nanoseconds

func (a *activity) touch() { a.last.Store(time.Now().UnixNano()) }

func (a *activity) idle() time.Duration { return time.Duration(time.Now().UnixNano() - a.last.Load()) }
