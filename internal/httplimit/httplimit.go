// Package httplimit guards the HTTP listener: it caps, per source IP
// address, the connections that have not yet carried valid credentials, and
// lets WebSocket upgrades outlive the HTTP server's timeouts. The REST API
// and the signalling hub mark a connection authenticated through its
// request context once a key or token verifies
// (docs/adr/0003-http-connection-limits.md).
package httplimit

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-voice/switchboard/internal/lograte"
)

// logEvery bounds refusal log lines under a flood: one line per interval,
// with the count since the last one.
const logEvery = 10 * time.Second

// Listener accepts connections and closes at once any that would take its
// source address over the cap of unauthenticated connections.
type Listener struct {
	net.Listener
	max int
	log *slog.Logger

	mu      sync.Mutex
	unauth  map[string]int // source IP → open, unauthenticated connections
	logs    *lograte.Limiter
	refused atomic.Uint64
}

// NewListener wraps ln; max is the cap per source IP (at least 1).
func NewListener(ln net.Listener, max int, log *slog.Logger) *Listener {
	if max < 1 {
		max = 1
	}
	return &Listener{Listener: ln, max: max, log: log, unauth: map[string]int{}, logs: lograte.New(logEvery, 1)}
}

// Accept returns the next connection within the cap; connections over it
// are closed without a word (no HTTP yet, and maybe TLS to come).
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := sourceIP(c.RemoteAddr())
		if l.admit(ip) {
			return &Conn{Conn: c, l: l, ip: ip}, nil
		}
		_ = c.Close()
	}
}

// Refused counts connections closed for the cap since the start.
func (l *Listener) Refused() uint64 { return l.refused.Load() }

// Unauthenticated reports the open, unauthenticated connections from ip.
func (l *Listener) Unauthenticated(ip string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.unauth[ip]
}

func (l *Listener) admit(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.unauth[ip] < l.max {
		l.unauth[ip]++
		return true
	}
	l.refused.Add(1)
	if ok, n := l.logs.Allow(""); ok {
		l.log.Warn("http: refused connections over the unauthenticated cap per source",
			"source", ip, "cap", l.max, "refused", n+1)
	}
	return false
}

func (l *Listener) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.unauth[ip]--; l.unauth[ip] <= 0 {
		delete(l.unauth, ip)
	}
}

func sourceIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		if v4 := ta.IP.To4(); v4 != nil {
			return v4.String()
		}
		return ta.IP.String()
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

// Conn is an accepted connection; it leaves its source's count once
// authenticated or closed, whichever comes first.
type Conn struct {
	net.Conn
	l      *Listener
	ip     string
	once   sync.Once
	authed atomic.Bool
}

// MarkAuthenticated takes the connection out of the unauthenticated count.
func (c *Conn) MarkAuthenticated() {
	c.authed.Store(true)
	c.release()
}

func (c *Conn) release() { c.once.Do(func() { c.l.release(c.ip) }) }

// Close closes the connection and releases its place if it still holds one.
func (c *Conn) Close() error {
	c.release()
	return c.Conn.Close()
}

type markKey struct{}

// ConnContext is for http.Server.ConnContext: it puts the connection's mark
// in every request context on it (TLS connections are unwrapped).
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = tc.NetConn()
	}
	if lc, ok := c.(*Conn); ok {
		return context.WithValue(ctx, markKey{}, lc)
	}
	return ctx
}

// MarkAuthenticated marks the connection ctx's request arrived on (a
// request context, or one derived from it) as authenticated: valid
// credentials were shown on it. Without a connection it does nothing.
func MarkAuthenticated(ctx context.Context) {
	if c, ok := ctx.Value(markKey{}).(*Conn); ok {
		c.MarkAuthenticated()
	}
}

// Authenticated reports whether valid credentials were shown on the
// connection ctx's request arrived on. Without a connection (a listener
// that is not ours) it reports true: there is nothing to hold against it.
func Authenticated(ctx context.Context) bool {
	c, ok := ctx.Value(markKey{}).(*Conn)
	return !ok || c.authed.Load()
}

// Upgrades lets WebSocket upgrades on the given paths outlive the HTTP
// server's read and write deadlines: a hijacked connection keeps the
// deadlines the server set for the upgrade request (net/http's Hijack
// docs), and coder/websocket does not clear them. Other requests, including
// anything with a body, keep the server's limits.
func Upgrades(h http.Handler, paths ...string) http.Handler {
	long := map[string]bool{}
	for _, p := range paths {
		long[p] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && long[r.URL.Path] && headerHas(r.Header, "Upgrade", "websocket") &&
			headerHas(r.Header, "Connection", "upgrade") {
			rc := http.NewResponseController(w)
			_ = rc.SetReadDeadline(time.Time{})
			_ = rc.SetWriteDeadline(time.Time{})
		}
		h.ServeHTTP(w, r)
	})
}

func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// Note is what the access log says about a request beyond its line:
// who it was made as. Handlers fill it in; the access log reads it after.
type Note struct {
	mu      sync.Mutex
	as      string // "admin" or "user"
	account string
}

type noteKey struct{}

// WithNote returns ctx carrying an empty note, and the note.
func WithNote(ctx context.Context) (context.Context, *Note) {
	n := &Note{}
	return context.WithValue(ctx, noteKey{}, n), n
}

// NoteCaller records that the request of ctx was made with the admin key
// (as "admin") or a user token of account (as "user").
func NoteCaller(ctx context.Context, as, account string) {
	if n, ok := ctx.Value(noteKey{}).(*Note); ok {
		n.mu.Lock()
		n.as, n.account = as, account
		n.mu.Unlock()
	}
}

// Caller returns what NoteCaller recorded.
func (n *Note) Caller() (as, account string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.as, n.account
}
