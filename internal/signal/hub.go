// Package signal owns the signalling WebSocket (/v1/webrtc): the upgrade and
// subprotocol, in-band authentication, one reader and one writer goroutine per
// socket with a bounded outbound queue, liveness pings, token expiry and
// revocation, and device sessions that outlive a dropped socket for a grace
// period. Call messages are handed to a Handler (the call layer).
package signal

import (
	"context"
	"log/slog"
	"sync"

	"github.com/switchboard-voice/switchboard/internal/auth"
	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// Authenticator verifies user tokens (auth.Tokens in production).
type Authenticator interface {
	Verify(ctx context.Context, token string) (auth.Identity, error)
}

// Handler is the call layer's side of the hub. Its methods must not block:
// they post events to call actors and return.
type Handler interface {
	// HandleMessage gets every authenticated frame that is not about the
	// session itself (calls, SDP, ICE, presence).
	HandleMessage(s *Session, msg protocol.Message)
	// SessionRestored runs after a reconnect's authenticated frame and before
	// frames kept while the socket was down; it sends call.restored.
	SessionRestored(s *Session)
	// SessionEnded runs once when a session is gone for good (grace period
	// over, revoked, or server stopping): its calls must end.
	SessionEnded(s *Session)
}

// Hub holds every device session and socket.
type Hub struct {
	cfg  config.Signal
	auth Authenticator
	log  *slog.Logger

	mu        sync.Mutex
	handler   Handler
	presence  Presence // nil: presence.subscribe is answered presence_unavailable
	sessions  map[ident.SessionID]*Session
	conns     map[*conn]struct{}
	draining  bool
	refuseNew bool // Drain: no new sessions
	wg        sync.WaitGroup
}

// NewHub returns a hub; set its Handler before serving calls.
func NewHub(cfg config.Signal, a Authenticator, log *slog.Logger) *Hub {
	return &Hub{
		cfg: cfg, auth: a, log: log,
		handler:  noCalls{},
		sessions: map[ident.SessionID]*Session{},
		conns:    map[*conn]struct{}{},
	}
}

// SetHandler installs the call layer.
func (h *Hub) SetHandler(hd Handler) {
	h.mu.Lock()
	h.handler = hd
	h.mu.Unlock()
}

func (h *Hub) getHandler() Handler {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.handler
}

// UserSessions returns the user's device sessions, connected or within
// their grace period.
func (h *Hub) UserSessions(user ident.UserID) []*Session {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*Session
	for _, s := range h.sessions {
		if s.UserID == user {
			out = append(out, s)
		}
	}
	return out
}

// Session returns a held session by id.
func (h *Hub) Session(id ident.SessionID) *Session {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sessions[id]
}

// ConnectedCount reports how many sockets are open (for health and metrics).
func (h *Hub) ConnectedCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// attach binds an authenticated socket to a session: the one it asked to
// resume when that session is held and is the same user's, else a new one.
func (h *Hub) attach(c *conn, id auth.Identity, want ident.SessionID) (*Session, bool, *protocol.Error) {
	h.mu.Lock()
	if h.draining {
		h.mu.Unlock()
		return nil, false, fatal(protocol.CodeGoingAway, "server is shutting down")
	}
	s := h.sessions[want]
	resume := s != nil && s.UserID == id.UserID && !s.isEnded()
	if !resume && h.refuseNew {
		h.mu.Unlock()
		return nil, false, fatal(protocol.CodeGoingAway, "server is draining: connect to another server")
	}
	if !resume {
		if n := h.connectedLocked(id.UserID); n >= h.cfg.SessionLimit {
			h.mu.Unlock()
			return nil, false, fatal(protocol.CodeSessionLimit, "too many sessions for this user")
		}
		s = newSession(h, id)
		h.sessions[s.ID] = s
	}
	p := h.presence
	h.mu.Unlock()
	if p != nil && !resume {
		p.DeviceUp(s.UserID, string(s.ID))
	}
	old := s.bind(c)
	if old != nil {
		old.fail(fatal(protocol.CodeSessionReplaced, "a newer connection took over this session"))
	}
	return s, resume, nil
}

func (h *Hub) connectedLocked(user ident.UserID) int {
	n := 0
	for c := range h.conns {
		if s := c.getSession(); s != nil && s.UserID == user {
			n++
		}
	}
	return n
}

// detached starts the session's grace period, unless the server is draining.
func (h *Hub) detached(s *Session) {
	grace := h.cfg.ReconnectGrace
	s.startGrace(grace, func() { h.endSession(s) })
}

// endSession forgets s and tells the call layer, once.
func (h *Hub) endSession(s *Session) {
	if !s.markEnded() {
		return
	}
	h.mu.Lock()
	delete(h.sessions, s.ID)
	p := h.presence
	h.mu.Unlock()
	if ws := s.watchSet(); ws != nil {
		ws.close()
	}
	if p != nil {
		p.DeviceDown(s.UserID, string(s.ID))
	}
	h.getHandler().SessionEnded(s)
}

// RevokeUser closes every socket of the user with session_revoked and ends
// their sessions at once (no grace: the tokens are dead).
func (h *Hub) RevokeUser(user ident.UserID) {
	for _, s := range h.UserSessions(user) {
		if c := s.currentConn(); c != nil {
			c.fail(fatal(protocol.CodeSessionRevoked, "sessions were revoked"))
		}
		h.endSession(s)
	}
}

// Drain refuses new sessions (with going_away) while sockets resuming a
// session, and so the calls on it, are still taken.
func (h *Hub) Drain() {
	h.mu.Lock()
	h.refuseNew = true
	h.mu.Unlock()
}

// Shutdown sends going_away to every socket, ends every session and waits
// for the hub's goroutines until ctx is done.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.draining = true
	conns := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	sessions := make([]*Session, 0, len(h.sessions))
	for _, s := range h.sessions {
		sessions = append(sessions, s)
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.fail(fatal(protocol.CodeGoingAway, "server is shutting down"))
	}
	for _, s := range sessions {
		h.endSession(s)
	}
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// addConn registers c and its three goroutines; under the lock, so no Add
// can follow Shutdown's Wait.
func (h *Hub) addConn(c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.draining {
		return false
	}
	h.conns[c] = struct{}{}
	h.wg.Add(3)
	return true
}

func (h *Hub) removeConn(c *conn) {
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
}

func fatal(code protocol.ErrorCode, msg string) *protocol.Error {
	return &protocol.Error{Code: code, Message: msg, Fatal: true}
}

// noCalls is the handler until the call layer is installed.
type noCalls struct{}

func (noCalls) HandleMessage(s *Session, msg protocol.Message) {
	s.Send(&protocol.Error{Code: protocol.CodeCallFailed, Message: "calls are not enabled on this server"})
}
func (noCalls) SessionRestored(*Session) {}
func (noCalls) SessionEnded(*Session)    {}
