package call

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/lograte"
)

// Limits bound call creation; the zero value of a field means no limit.
// Rates are token buckets (golang.org/x/time/rate).
type Limits struct {
	// SocketRate and SocketBurst bound call.create per device session.
	SocketRate  float64
	SocketBurst int
	// UserRate and UserBurst bound the calls a user starts from every
	// socket and SIP phone together.
	UserRate  float64
	UserBurst int
	// MaxPerAccount caps an account's calls up at once.
	MaxPerAccount int
	// MaxCalls caps the calls this node owns at once (cluster.max_calls).
	MaxCalls int
	// MaxCPU is the node's CPU ceiling (cluster.max_cpu, a share of all
	// cores): at or over it, by CPU (the share last measured; nil: none
	// known), the node takes no new calls. It must not block.
	MaxCPU float64
	CPU    func() float64
}

// Which limit refused a call, in a rate_limited error's context.limit.
const (
	LimitSocket  = "socket"
	LimitUser    = "user"
	LimitAccount = "account"
	LimitNode    = "node" // this node's ceiling (ceiling.go)
)

// ErrRateLimited is a call refused by a limit. It crosses the edge as a
// rate_limited error (WebSocket) or 503 with Retry-After (SIP).
var ErrRateLimited = errors.New("call rate limited")

// LimitError says which limit refused a call and when a retry can succeed.
type LimitError struct {
	Limit      string        // LimitSocket, LimitUser or LimitAccount
	RetryAfter time.Duration // 0 for the caps: they free as calls end
	Max        int           // the account's or the node's cap
	// Peer is a cluster node with room, for LimitNode ("" when none is
	// known). Calls are not forwarded to it (that needs cross-node
	// signalling): the caller may connect there instead.
	Peer string
	// MaxCPU is the node's CPU ceiling when that refused the call.
	MaxCPU float64
}

func (e *LimitError) Error() string {
	switch e.Limit {
	case LimitNode:
		return e.nodeError()
	case LimitAccount:
		return fmt.Sprintf("too many calls: the account has %d calls up, its limit", e.Max)
	case LimitUser:
		return "too many calls started by this user: slow down"
	}
	return "too many call.create on this socket: slow down"
}

func (e *LimitError) Unwrap() error { return ErrRateLimited }

// limits applies Limits. It is safe for concurrent use and never calls
// back into the Manager.
type limits struct {
	socket  *keyedLimiter
	user    *keyedLimiter
	max     int
	node    int // the node's ceiling (0: none)
	maxCPU  float64
	cpu     func() float64 // nil: no CPU ceiling
	mu      sync.Mutex
	total   int                     // the node's calls counted
	running map[ident.AccountID]int // entries at zero are deleted
	logs    *lograte.Limiter        // refusal log lines, one key for the server
}

func newLimits(l Limits) *limits {
	lim := &limits{socket: newKeyedLimiter(l.SocketRate, l.SocketBurst),
		user: newKeyedLimiter(l.UserRate, l.UserBurst), max: l.MaxPerAccount, node: l.MaxCalls,
		running: map[ident.AccountID]int{}, logs: lograte.New(500*time.Millisecond, 5)}
	if l.MaxCPU > 0 && l.CPU != nil {
		lim.maxCPU, lim.cpu = l.MaxCPU, l.CPU
	}
	return lim
}

// allow takes a token from the session's and the user's buckets (either
// key may be empty: not limited), or neither, and says which refused.
func (l *limits) allow(session ident.SessionID, user ident.UserID, now time.Time) *LimitError {
	rs, err := l.socket.reserve(string(session), now, LimitSocket)
	if err != nil {
		return err
	}
	if _, err := l.user.reserve(string(user), now, LimitUser); err != nil {
		if rs != nil {
			rs.CancelAt(now)
		}
		return err
	}
	return nil
}

// start counts a call of acct against the node's ceiling and the account
// cap (a pickup, which takes a parked call's place, is counted but never
// refused); done releases it.
func (l *limits) start(acct ident.AccountID, pickup bool) *LimitError {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.fullLocked(); e != nil && !pickup {
		return e
	}
	if l.max > 0 && l.running[acct] >= l.max && !pickup {
		return &LimitError{Limit: LimitAccount, Max: l.max}
	}
	l.running[acct]++
	l.total++
	return nil
}

func (l *limits) done(acct ident.AccountID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.running[acct]--; l.running[acct] <= 0 {
		delete(l.running, acct)
	}
}

// count reports the account's calls counted against the cap.
func (l *limits) count(acct ident.AccountID) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.running[acct]
}

// keyedLimiter is a token bucket per key. A key unused for as long as its
// bucket takes to refill is forgotten (a fresh bucket is the same), so the
// map holds only keys active within that window.
type keyedLimiter struct {
	limit rate.Limit
	burst int
	idle  time.Duration

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// newKeyedLimiter returns nil (no limit) unless r and burst are positive.
func newKeyedLimiter(r float64, burst int) *keyedLimiter {
	if r <= 0 || burst < 1 {
		return nil
	}
	idle := time.Duration(float64(burst) / r * float64(time.Second))
	idle = max(idle, time.Second)
	return &keyedLimiter{limit: rate.Limit(r), burst: burst, idle: idle, buckets: map[string]*bucket{}}
}

// reserve takes one token for key now, or returns why not.
func (k *keyedLimiter) reserve(key string, now time.Time, name string) (*rate.Reservation, *LimitError) {
	if k == nil || key == "" {
		return nil, nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.sweep(now)
	b := k.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(k.limit, k.burst)}
		k.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return nil, &LimitError{Limit: name, RetryAfter: d}
	}
	return r, nil
}

// sweep drops the buckets idle for the refill time, at most once per it.
func (k *keyedLimiter) sweep(now time.Time) {
	if now.Sub(k.lastSweep) < k.idle {
		return
	}
	k.lastSweep = now
	for key, b := range k.buckets {
		if now.Sub(b.seen) >= k.idle {
			delete(k.buckets, key)
		}
	}
}

// size reports how many keys are held.
func (k *keyedLimiter) size() int {
	if k == nil {
		return 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.buckets)
}

// placeAllowed checks a SIP call against its user's rate and its account's
// cap (trunk calls have no user: the cap only). It runs under m.mu.
func (m *Manager) placeAllowed(p Placement) error {
	if e := m.lim.allow("", p.User, time.Now()); e != nil {
		m.observer().CallRefused(string(e.Limit))
		m.lim.logRefusal(m.log, e, p.Account, p.User, "")
		return e
	}
	if e := m.lim.start(p.Account, p.User != "" && m.ParkedHere(p.Account, p.Destination)); e != nil {
		m.hintPeer(e)
		m.observer().CallRefused(string(e.Limit))
		m.lim.logRefusal(m.log, e, p.Account, p.User, "")
		return e
	}
	return nil
}

// refused logs a call.create a limit refused and tells the device.
func (m *Manager) refused(dev Device, e *LimitError, reqID string) {
	m.hintPeer(e)
	m.observer().CallRefused(string(e.Limit))
	m.lim.logRefusal(m.log, e, dev.Account(), dev.User(), dev.SessionID())
	dev.Party("").Refused(Refusal{Code: CodeRateLimited, ReqID: reqID, Msg: e.Error(), Limit: e})
}

// logRefusal writes one INFO line per refusal, at most a few a second
// across the server so that a flood cannot flood the log; the next line
// says how many were left out.
func (l *limits) logRefusal(log *slog.Logger, e *LimitError, acct ident.AccountID, user ident.UserID, session ident.SessionID) {
	ok, n := l.logs.Allow("")
	if !ok {
		return
	}
	attrs := []any{"limit", e.Limit, "account", acct, "user", user, "session_id", session,
		"retry_after", e.RetryAfter, "suppressed", n}
	if e.Limit == LimitNode {
		attrs = append(attrs, "max_calls", e.Max, "max_cpu", e.MaxCPU, "peer_with_room", e.Peer)
	}
	log.Info("call refused by a limit", attrs...)
}
