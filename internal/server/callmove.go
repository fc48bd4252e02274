package server

import (
	"context"
	"encoding/json"
	"time"

	"github.com/switchboard-voice/switchboard/internal/callwire"
	"github.com/switchboard-voice/switchboard/internal/cluster"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/signal"
)

// A device session moves between nodes like this (ADR 0009): its socket
// drops and reconnects to node B with its session_id, which B does not
// hold. B finds the node that does (A) in the location registry and asks
// it for the session (methodHandover). A lets go of the session without
// ending it and answers with the calls it is in (call → owner); B holds
// it from then on. B's restore then tells each owner the session moved
// (opRestore with Moved): the owner gives the session's legs a party that
// reaches it through B (remoteParty, or on B a local one) and sends
// call.restored. Media stays on the owner.

// methodHandover (on the node holding a session) hands it to another.
const methodHandover = "session.handover"

// movedFor is how long a node forwards party messages for a session that
// moved away (those the owners sent before they heard of the move).
const movedFor = 30 * time.Second

type handoverMsg struct {
	From    string          `json:"from"` // the node taking the session
	Session ident.SessionID `json:"session"`
	User    ident.UserID    `json:"user"`
	// Until (a claim) is when the claiming node stops waiting: the
	// session is not let go after it, so it is never handed to a node
	// that has given up on it.
	Until time.Time `json:"until,omitzero"`
}

type handoverReply struct {
	signal.Released
	// Calls are the session's calls and the nodes owning them.
	Calls map[ident.CallID]string `json:"calls,omitempty"`
}

// movedAway is a session this node handed to node, until.
type movedAway struct {
	node  string
	until time.Time
}

// sessionMover is the hub's Mover in a cluster.
type sessionMover struct{ r *callRelay }

// Adopt (the new node) asks the node the registry names for the session.
func (m sessionMover) Adopt(ctx context.Context, id ident.SessionID, user ident.UserID) (signal.Released, bool) {
	r := m.r
	node := r.node()
	if node == nil {
		return signal.Released{}, false
	}
	locs, err := node.Lookup(ctx, string(user))
	if err != nil {
		r.log.Warn("cluster: move: lookup", "user", user, "err", err)
		return signal.Released{}, false
	}
	for _, l := range locs {
		if l.Kind != cluster.KindWebRTC || l.Device != string(id) || l.Node == node.ID() {
			continue
		}
		start := time.Now()
		rep, err := cluster.Request[handoverReply](ctx, node, cluster.NodeSubject(l.Node, methodHandover),
			handoverMsg{From: node.ID(), Session: id, User: user})
		if err != nil {
			r.log.Info("cluster: move: hand-over refused", "node", l.Node, "session", id, "err", err)
			continue
		}
		r.arrived(id, rep.Calls, node.ID())
		r.log.Info("cluster: session moved here", "from", l.Node, "session", id, "calls", len(rep.Calls), "took", time.Since(start))
		return rep.Released, true
	}
	return signal.Released{}, false
}

// arrived (new node) notes the calls of a session that moved here: the
// ones other nodes own are relayed from now on, and every owner is told
// of the move when the session is restored.
func (r *callRelay) arrived(sess ident.SessionID, calls map[ident.CallID]string, self string) {
	r.mu.Lock()
	r.moving[sess] = true
	r.mu.Unlock()
	r.forgetLegs(sess) // this node's calls: the session is local now
	for id, owner := range calls {
		if owner != self {
			r.track(sess, id, owner, true)
		}
	}
}

// takeMoving reports, once, whether the session just moved here.
func (r *callRelay) takeMoving(sess ident.SessionID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	ok := r.moving[sess]
	delete(r.moving, sess)
	return ok
}

// forgetLegs (owner) drops the session's remote legs on every node.
func (r *callRelay) forgetLegs(sess ident.SessionID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for node, legs := range r.legs {
		for k := range legs {
			if k.sess == sess {
				delete(legs, k)
			}
		}
		if len(legs) == 0 {
			delete(r.legs, node)
		}
	}
}

// onHandover (the node holding the session) lets go of it.
func (r *callRelay) onHandover(_ context.Context, raw json.RawMessage) (any, error) {
	var m handoverMsg
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, cluster.Errorf(cluster.CodeBadRequest, "hand-over: %v", err)
	}
	node := r.node()
	if m.From == "" || m.Session == "" || node == nil {
		return nil, cluster.Errorf(cluster.CodeBadRequest, "hand-over without node or session")
	}
	s := r.s.Hub.Session(m.Session)
	if s == nil || s.UserID != m.User {
		return nil, cluster.Errorf(cluster.CodeNotFound, "no session %s", m.Session)
	}
	calls, undo := r.leaving(m.Session, m.From, node.ID())
	rel, ok := r.s.Hub.Release(m.Session, m.User)
	if !ok {
		undo()
		return nil, cluster.Errorf(cluster.CodeNotFound, "no session %s", m.Session)
	}
	return handoverReply{Released: rel, Calls: calls}, nil
}

// leaving (the node holding a session) prepares to hand it to node to:
// it lists the session's calls and their owners, forgets the remote ones
// and passes on from now on what owners send for the session. Party
// messages that come before the session is let go still find it here.
// undo puts things back when the session could not be let go.
func (r *callRelay) leaving(sess ident.SessionID, to, self string) (map[ident.CallID]string, func()) {
	calls := map[ident.CallID]string{}
	for _, id := range r.s.Calls.MemberCalls(sess) {
		calls[id] = self
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	remote := r.remote[sess]
	for id, owner := range remote {
		calls[id] = owner
	}
	delete(r.remote, sess)
	r.moved[sess] = movedAway{node: to, until: time.Now().Add(movedFor)}
	for id, mv := range r.moved {
		if time.Now().After(mv.until) {
			delete(r.moved, id)
		}
	}
	return calls, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.moved, sess)
		if len(remote) == 0 {
			return
		}
		if r.remote[sess] == nil {
			r.remote[sess] = map[ident.CallID]string{}
		}
		for id, owner := range remote {
			r.remote[sess][id] = owner
		}
	}
}

// movedTo is the node a session recently moved to ("" when none).
func (r *callRelay) movedTo(sess ident.SessionID) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	mv, ok := r.moved[sess]
	if !ok || time.Now().After(mv.until) {
		return ""
	}
	return mv.node
}

// passOn (the node a session left) forwards an owner's party message to
// the session's new node; it reports whether the session had moved.
func (r *callRelay) passOn(m partyMsg) bool {
	to := r.movedTo(m.Session)
	if to == "" {
		return false
	}
	r.out.send(to, cluster.NodeSubject(to, methodParty), m, func(err error) {
		r.log.Info("cluster: move: pass on", "node", to, "session", m.Session, "method", m.Method, "err", err)
	})
	return true
}

// restoreHere restores a session's local calls, after a move giving its
// legs a local party.
func (h callHandler) restoreHere(s *signal.Session) {
	if h.relay != nil && h.relay.takeMoving(s.ID) {
		h.m.RestoreMoved(callwire.Device{S: s})
		h.relay.sessionRestored(s, true, false)
		return
	}
	h.m.Restore(callwire.Device{S: s})
	if h.relay != nil {
		h.relay.sessionRestored(s, false, false)
	}
}

// SessionAdopted: a socket without session_id took over a session that
// another node held (callresume.go); its legs follow it as after a move,
// without call.restored.
func (h callHandler) SessionAdopted(s *signal.Session) {
	if h.relay == nil || !h.relay.takeMoving(s.ID) {
		return
	}
	h.m.Rehome(callwire.Device{S: s})
	h.relay.sessionRestored(s, true, true)
}

// arriving waits (briefly) for a session being handed to this node to be
// held by the hub: the node it left passes messages on from the moment it
// lets go, which may be just before the hub holds it.
func (r *callRelay) arriving(sess ident.SessionID) *signal.Session {
	r.mu.Lock()
	moving := r.moving[sess]
	r.mu.Unlock()
	if !moving {
		return nil
	}
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if s := r.s.Hub.Session(sess); s != nil {
			return s
		}
	}
	return nil
}
