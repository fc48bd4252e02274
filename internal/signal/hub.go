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
	"time"

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
	// HasLiveCalls reports whether the session is a party to a live call
	// (one SessionRestored would describe). It may wait briefly.
	HasLiveCalls(s *Session) bool
	// SessionAdopted runs after the authenticated frame of a socket that
	// resumed without session_id a session another node held, before the
	// frames kept are replayed: the session's calls must follow it without
	// telling the device (no call.restored).
	SessionAdopted(s *Session)
}

// Hub holds every device session and socket.
type Hub struct {
	cfg  config.Signal
	auth Authenticator
	log  *slog.Logger

	mu        sync.Mutex
	handler   Handler
	presence  Presence        // nil: presence.subscribe is answered presence_unavailable
	locator   Locator         // binds emergency addresses (emergency.go); nil: none
	observer  SessionObserver // hears sessions start and end (devices.go); nil: none
	mover     Mover           // takes sessions over from other nodes (move.go); nil: none
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
// resume when that session is held and is the same user's; with no
// session asked for, the user's only detached session with live calls
// (see implicitResume); else a new one.
func (h *Hub) attach(c *conn, id auth.Identity, want ident.SessionID) (*Session, resumption, *protocol.Error) {
	if want == "" {
		if s, how := h.implicitResume(c, id.UserID); s != nil {
			return s, how, nil
		}
	}
	if want != "" {
		h.adopt(c, id, want) // held by another node: moves here
	}
	h.mu.Lock()
	if h.draining {
		h.mu.Unlock()
		return nil, fresh, fatal(protocol.CodeGoingAway, "server is shutting down")
	}
	s := h.sessions[want]
	resume := s != nil && s.UserID == id.UserID && !s.isEnded()
	if !resume && h.refuseNew {
		h.mu.Unlock()
		return nil, fresh, fatal(protocol.CodeGoingAway, "server is draining: connect to another server")
	}
	if !resume {
		if n := h.connectedLocked(id.UserID); n >= h.cfg.SessionLimit {
			h.mu.Unlock()
			return nil, fresh, fatal(protocol.CodeSessionLimit, "too many sessions for this user")
		}
		s = newSession(h, id)
		h.sessions[s.ID] = s
	}
	p := h.presence
	h.mu.Unlock()
	if p != nil && !resume {
		p.DeviceUp(s.UserID, string(s.ID))
	}
	if !resume {
		h.sessionChanged(s, c.remote, true)
	}
	old := s.bind(c)
	if old != nil {
		old.fail(fatal(protocol.CodeSessionReplaced, "a newer connection took over this session"))
	}
	if resume {
		return s, resumedByID, nil
	}
	return s, fresh, nil
}

// resumption is how a socket came to its session.
type resumption int

const (
	fresh             resumption = iota // a new session
	resumedByID                         // authenticate named the session
	resumedImplicitly                   // no session_id; the user's only detached session with calls
	adoptedImplicitly                   // resumedImplicitly, the session taken over from another node
)

// implicitResume binds c to the user's one session that holds live calls
// and has lost its socket, for clients that never send session_id
// (DialStack's SDK keeps its calls across a socket drop but
// re-authenticates with the token alone). In a cluster the sessions other
// nodes hold count too (implicit.go). With none, or more than one, it
// returns nil: which device's calls to hand over would be a guess.
//
// A detached session qualifies first; with none, a connected one whose
// socket does not answer a ping (takeOverStale).
func (h *Hub) implicitResume(c *conn, user ident.UserID) (*Session, resumption) {
	h.mu.Lock()
	var detached, connected []*Session
	for _, s := range h.sessions {
		switch {
		case s.UserID != user || s.isEnded():
		case s.Connected():
			connected = append(connected, s)
		default:
			detached = append(detached, s)
		}
	}
	draining := h.draining
	h.mu.Unlock()
	if draining {
		return nil, fresh
	}
	hd := h.getHandler()
	local := withCalls(hd, detached)
	if len(local) > 1 {
		h.log.Debug("no implicit resume: several detached sessions hold calls", "user", user)
		return nil, fresh
	}
	remote := h.candidates(c, user)
	pick := pickImplicit(local, remote, func() []*Session { return withCalls(hd, connected) })
	switch {
	case pick.remote != nil:
		return h.claimRemote(c, user, *pick.remote)
	case pick.stale != nil:
		return h.takeOverStale(c, user, pick.stale), resumedImplicitly
	case pick.local != nil:
		return h.claimLocal(c, user, pick.local), resumedImplicitly
	}
	if pick.many {
		h.log.Debug("no implicit resume: several sessions hold calls", "user", user, "on_other_nodes", len(remote))
	}
	return nil, fresh
}

// claimLocal binds c to s, detached, unless another socket took it or it
// ended meanwhile.
func (h *Hub) claimLocal(c *conn, user ident.UserID, s *Session) *Session {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.draining || h.sessions[s.ID] != s || !s.claim(c) {
		return nil // ended, or another socket took it meanwhile
	}
	h.log.Debug("session resumed without session_id", "user", user, "session_id", s.ID)
	return s
}

// withCalls returns the sessions of ss that hold live calls.
func withCalls(hd Handler, ss []*Session) []*Session {
	var out []*Session
	for _, s := range ss {
		if hd.HasLiveCalls(s) {
			out = append(out, s)
		}
	}
	return out
}

// probeTimeout is how long a socket that seems connected has to answer a
// ping before a client re-authenticating without session_id takes its
// session over.
const probeTimeout = 2 * time.Second

// takeOverStale handles the common drop the server does not see: a
// device's network changes (Wi-Fi to LTE), its old socket dies without a
// FIN, and the client re-authenticates over the new network long before
// pings would notice. s is the user's one connected session holding live
// calls: when its socket does not answer a ping within probeTimeout, c
// takes it over (the old socket is closed as replaced). A socket that
// answers keeps its session: c is another device.
func (h *Hub) takeOverStale(c *conn, user ident.UserID, s *Session) *Session {
	old := s.currentConn()
	if old == nil || old.alive(probeTimeout) {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.draining || h.sessions[s.ID] != s || !s.swap(old, c) {
		return nil
	}
	old.fail(fatal(protocol.CodeSessionReplaced, "a newer connection took over this session"))
	h.log.Info("session taken over from a socket that did not answer", "user", user, "session_id", s.ID)
	return s
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
	if h.forget(s) {
		h.getHandler().SessionEnded(s)
	}
}

// forget ends s for this hub (its presence, its registry share) without
// telling the call layer; it reports whether this call did.
func (h *Hub) forget(s *Session) bool {
	if !s.markEnded() {
		return false
	}
	h.forgotten(s)
	return true
}

// forgotten drops s, just marked ended, from the hub.
func (h *Hub) forgotten(s *Session) {
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
	h.sessionChanged(s, s.source(), false)
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
func (noCalls) SessionRestored(*Session)   {}
func (noCalls) SessionEnded(*Session)      {}
func (noCalls) HasLiveCalls(*Session) bool { return false }
func (noCalls) SessionAdopted(*Session)    {}
