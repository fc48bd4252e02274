// Package lograte bounds the log lines a flood can cause. Lines are keyed
// (by source address, by user, or one key for the whole server); each key
// has a token bucket, and a line that is let through after some were held
// back says how many (the caller logs that count as "suppressed").
//
// The SIP transport's lines about what peers send, the call limits'
// refusals and the HTTP access log of unauthenticated requests share it.
package lograte

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxKeys bounds the memory a flood of spoofed sources can take. When the
// table is full of keys still in use, lines of new keys are dropped.
const maxKeys = 10000

// Limiter decides which keyed lines are written.
type Limiter struct {
	every time.Duration
	burst int
	now   func() time.Time

	mu   sync.Mutex
	keys map[string]*bucket
}

type bucket struct {
	lim        *rate.Limiter
	suppressed int
	last       time.Time
}

// New lets through, per key, burst lines at once and then one line every
// every.
func New(every time.Duration, burst int) *Limiter {
	if burst < 1 {
		burst = 1
	}
	return &Limiter{every: every, burst: burst, now: time.Now, keys: map[string]*bucket{}}
}

// SetClock replaces the clock (tests).
func (l *Limiter) SetClock(now func() time.Time) {
	l.mu.Lock()
	l.now = now
	l.mu.Unlock()
}

// Allow reports whether a line of key may be written now and, if so, how
// many lines of key were held back since the last one written.
func (l *Limiter) Allow(key string) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.keys[key]
	if b == nil {
		if len(l.keys) >= maxKeys && !l.evict(now) {
			return false, 0
		}
		b = &bucket{lim: rate.NewLimiter(rate.Every(l.every), l.burst)}
		l.keys[key] = b
	}
	b.last = now
	if !b.lim.AllowN(now, 1) {
		b.suppressed++
		return false, 0
	}
	n := b.suppressed
	b.suppressed = 0
	return true, n
}

// evict forgets keys idle long enough for their bucket to be full again
// (nothing held back is lost: a key with lines held back is kept). It
// reports whether there is room now.
func (l *Limiter) evict(now time.Time) bool {
	idle := l.every * time.Duration(l.burst)
	for k, b := range l.keys {
		if b.suppressed == 0 && now.Sub(b.last) >= idle {
			delete(l.keys, k)
		}
	}
	return len(l.keys) < maxKeys
}
