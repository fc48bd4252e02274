package signal

import (
	"context"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// A socket that authenticates without session_id resumes the user's one
// session that holds live calls and has lost its socket (hub.go,
// implicitResume). In a cluster that session may be held by another node
// (the socket came back through the load balancer to another one): the
// hub then asks the Mover for the sessions other nodes hold that would
// qualify there (Candidates), counts them with its own, and when exactly
// one qualifies and it is elsewhere, claims it (Claim). The node holding
// it decides: it hands the session over only while it still qualifies
// (still detached, or its socket still fails a ping), and only once, so
// two sockets claiming it at once from two nodes cannot both get it.

// Candidate is a session of the user that would be resumed without
// session_id on the node holding it: it holds live calls and has no
// socket, or a socket that may be stale (Connected).
type Candidate struct {
	Session   ident.SessionID `json:"session"`
	Connected bool            `json:"connected,omitempty"`
	Node      string          `json:"node,omitempty"` // set by the Mover: the node holding it
}

// Timeouts of the cluster part of a resume without session_id: asking
// the other nodes for candidates, and claiming one (the node holding it
// may ping its socket for probeTimeout first).
const (
	candidatesTimeout = 3 * time.Second
	claimTimeout      = probeTimeout + 2*time.Second
)

// implicitPick is what a resume without session_id takes: a local session
// (detached, or connected with a stale socket), a remote candidate, or
// nothing (many: two or more qualify).
type implicitPick struct {
	local  *Session
	stale  *Session
	remote *Candidate
	many   bool
}

// pickImplicit applies the rule over this node's detached sessions with
// calls (local, at most one), the other nodes' candidates and, only when
// no detached session qualifies anywhere, this node's connected sessions
// with calls: exactly one detached session across the cluster, else
// exactly one connected one.
func pickImplicit(local []*Session, remote []Candidate, connected func() []*Session) implicitPick {
	var remoteDetached, remoteConnected []Candidate
	for _, c := range remote {
		if c.Connected {
			remoteConnected = append(remoteConnected, c)
		} else {
			remoteDetached = append(remoteDetached, c)
		}
	}
	switch n := len(local) + len(remoteDetached); {
	case n > 1:
		return implicitPick{many: true}
	case len(local) == 1:
		return implicitPick{local: local[0]}
	case n == 1:
		return implicitPick{remote: &remoteDetached[0]}
	}
	conn := connected()
	switch {
	case len(conn)+len(remoteConnected) > 1:
		return implicitPick{many: true}
	case len(conn) == 1:
		return implicitPick{stale: conn[0]}
	case len(remoteConnected) == 1:
		return implicitPick{remote: &remoteConnected[0]}
	}
	return implicitPick{}
}

// candidates asks the other nodes, through the mover, for the user's
// sessions they hold that would qualify (none without a mover).
func (h *Hub) candidates(c *conn, user ident.UserID) []Candidate {
	h.mu.Lock()
	m, closing := h.mover, h.draining || h.refuseNew
	h.mu.Unlock()
	if m == nil || closing {
		return nil
	}
	ctx, cancel := context.WithTimeout(c.ctx, candidatesTimeout)
	defer cancel()
	return m.Candidates(ctx, user)
}

// claimRemote takes cand over from the node holding it and binds c to
// it; nil when that node no longer lets it go.
func (h *Hub) claimRemote(c *conn, user ident.UserID, cand Candidate) (*Session, resumption) {
	h.mu.Lock()
	m := h.mover
	h.mu.Unlock()
	// Not c's context: once the other node lets the session go it must be
	// taken here, even if this socket closes meanwhile (the session then
	// waits for a resume by id, as any detached one).
	ctx, cancel := context.WithTimeout(context.Background(), claimTimeout)
	rel, ok := m.Claim(ctx, cand, user)
	cancel()
	if !ok {
		return nil, fresh
	}
	s := h.adopted(c, cand.Session, user, rel)
	if s == nil {
		return nil, fresh
	}
	if !s.claim(c) {
		h.detached(s) // kept for a resume by id within the grace
		return nil, fresh
	}
	h.log.Info("session resumed without session_id from another node", "user", user, "session_id", s.ID, "from", cand.Node)
	return s, adoptedImplicitly
}

// Resumable lists the user's sessions held here that a socket
// authenticating without session_id on another node could resume: those
// holding live calls, without a socket or with one (which the claim then
// pings).
func (h *Hub) Resumable(user ident.UserID) []Candidate {
	hd := h.getHandler()
	var out []Candidate
	for _, s := range h.UserSessions(user) {
		if !s.isEnded() && hd.HasLiveCalls(s) {
			out = append(out, Candidate{Session: s.ID, Connected: s.Connected()})
		}
	}
	return out
}

// ReleaseStale is Release for a socket that authenticated on another node
// without session_id: session id is let go only while it still qualifies,
// it holds live calls and has no socket, or its socket does not answer a
// ping within probeTimeout (that socket is then closed with
// session_replaced). The frames kept while it had no socket go along.
// prepare runs once it qualifies, just before it is let go; its undo runs
// when it could not be (another socket took it, or it ended, meanwhile).
// Past until (zero: no limit) the claimant has given up: nothing is let go.
func (h *Hub) ReleaseStale(id ident.SessionID, user ident.UserID, until time.Time, prepare func() (undo func())) (Released, bool) {
	s := h.Session(id)
	h.mu.Lock()
	draining := h.draining
	h.mu.Unlock()
	if s == nil || s.UserID != user || draining || s.isEnded() || !h.getHandler().HasLiveCalls(s) {
		return Released{}, false
	}
	old := s.currentConn()
	if old != nil && old.alive(probeTimeout) {
		return Released{}, false // another device of the user, alive
	}
	if !until.IsZero() && time.Now().After(until) {
		h.log.Info("no implicit resume: the claiming node has given up", "user", user, "session_id", id)
		return Released{}, false
	}
	rel := Released{Account: s.AccountID}
	if ws := s.watchSet(); ws != nil {
		rel.Watched = ws.watched()
	}
	undo := prepare()
	endings, missed, ok := s.letGo(old, h.cfg.ReconnectGrace)
	if !ok {
		undo()
		return Released{}, false
	}
	rel.Endings, rel.Missed = endings, missed
	h.forgotten(s)
	if old != nil {
		old.fail(fatal(protocol.CodeSessionReplaced, "a newer connection took over this session"))
	}
	h.log.Info("session moved to another node for a socket without session_id", "user", user, "session_id", id)
	return rel, true
}
