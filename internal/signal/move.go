package signal

import (
	"context"
	"time"

	"github.com/switchboard-voice/switchboard/internal/auth"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// Mover takes device sessions over from other nodes of a cluster: a
// socket that authenticates here with the session_id of a session another
// node holds resumes it here (its calls carry on; the call layer learns
// of the move when the session is restored).
type Mover interface {
	// Adopt asks the node holding session id of user to hand it over. It
	// returns what that node released, or false when no node holds it (the
	// socket then gets a new session, as on a single node).
	Adopt(ctx context.Context, id ident.SessionID, user ident.UserID) (Released, bool)
	// Candidates asks the other nodes holding sessions of user for those
	// a socket without session_id could resume (implicit.go); a node that
	// does not answer counts for none.
	Candidates(ctx context.Context, user ident.UserID) []Candidate
	// Claim asks c.Node to hand session c over for a socket that named no
	// session_id; that node lets it go only while it still qualifies.
	Claim(ctx context.Context, c Candidate, user ident.UserID) (Released, bool)
}

// Released is what a node hands over with a session.
type Released struct {
	Account ident.AccountID `json:"account"`
	// Endings are the call.ended frames of the session's grace period,
	// replayed after the resume as on a single node.
	Endings [][]byte `json:"endings,omitempty"`
	// Watched are the users whose presence the session watches; the new
	// node watches them again and sends their state after the resume.
	Watched []ident.UserID `json:"watched,omitempty"`
	// Missed are the other frames kept while the session had no socket,
	// for a socket resuming it without session_id (ReleaseStale).
	Missed [][]byte `json:"missed,omitempty"`
}

// adoptTimeout bounds the hand-over an authenticate waits for.
const adoptTimeout = 3 * time.Second

// SetMover installs m (before serving).
func (h *Hub) SetMover(m Mover) {
	h.mu.Lock()
	h.mover = m
	h.mu.Unlock()
}

// adopt takes session want over from another node when this hub does not
// hold it and a mover is installed: the session is then held here, as if
// it had started here and its socket were away.
func (h *Hub) adopt(c *conn, id auth.Identity, want ident.SessionID) {
	h.mu.Lock()
	m, held, closing := h.mover, h.sessions[want] != nil, h.draining || h.refuseNew
	h.mu.Unlock()
	if m == nil || held || closing {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, adoptTimeout)
	rel, ok := m.Adopt(ctx, want, id.UserID)
	cancel()
	if ok {
		h.adopted(c, want, id.UserID, rel)
	}
}

// adopted holds session want of user, released by another node with rel,
// without a socket yet; nil when the hub holds it already.
func (h *Hub) adopted(c *conn, want ident.SessionID, user ident.UserID, rel Released) *Session {
	s := &Session{ID: want, UserID: user, AccountID: rel.Account, hub: h, startedAt: time.Now(), missed: rel.Missed}
	for _, f := range rel.Endings {
		s.endings = append(s.endings, ending{at: s.startedAt, frame: f})
	}
	h.mu.Lock()
	if h.sessions[want] != nil {
		h.mu.Unlock()
		return nil
	}
	h.sessions[want] = s
	p := h.presence
	h.mu.Unlock()
	if p != nil {
		p.DeviceUp(s.UserID, string(s.ID))
	}
	h.sessionChanged(s, c.remote, true)
	if ws := h.getPresence(); ws != nil && len(rel.Watched) > 0 {
		rewatch(s.watches(h, ws), rel.Watched)
	}
	h.log.Info("session moved here from another node", "user", s.UserID, "session_id", s.ID)
	return s
}

// Release lets go of session id of user, held here, because another node
// takes it over: its socket (if any) is closed with session_replaced and
// the hub forgets it without ending its calls (they follow the session).
// It returns false when the hub holds no such session of user.
func (h *Hub) Release(id ident.SessionID, user ident.UserID) (Released, bool) {
	s := h.Session(id)
	if s == nil || s.UserID != user {
		return Released{}, false
	}
	c := s.currentConn()
	rel := Released{Account: s.AccountID}
	s.mu.Lock()
	for _, e := range s.endings {
		if time.Since(e.at) <= h.cfg.ReconnectGrace {
			rel.Endings = append(rel.Endings, e.frame)
		}
	}
	s.mu.Unlock()
	if ws := s.watchSet(); ws != nil {
		rel.Watched = ws.watched()
	}
	if !h.forget(s) {
		return Released{}, false
	}
	if c != nil {
		c.fail(fatal(protocol.CodeSessionReplaced, "a newer connection took over this session"))
	}
	h.log.Info("session moved to another node", "user", user, "session_id", id)
	return rel, true
}

// watched lists the users the set watches.
func (ws *watchSet) watched() []ident.UserID {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	out := make([]ident.UserID, 0, len(ws.cancels))
	for u := range ws.cancels {
		out = append(out, u)
	}
	return out
}

// rewatch watches users again on a session that moved here (ws nil: the
// session or hub is over); the resume resends their state.
func rewatch(ws *watchSet, users []ident.UserID) {
	if ws == nil {
		return
	}
	for _, u := range users {
		if _, err := ws.watch(u); err != nil {
			ws.s.hub.log.Debug("presence: watch again after a move", "user", u, "err", err)
		}
	}
}
