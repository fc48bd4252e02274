package server

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/switchboard-voice/switchboard/internal/cluster"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/signal"
)

// A socket that authenticates without session_id on node B, when no
// session of B qualifies for an implicit resume, may resume one another
// node holds (signal/implicit.go). B asks every other node holding WebRTC
// bindings of the user (registry lookup) for its candidates
// (methodCandidates); when exactly one session qualifies across the
// cluster and it is on node A, B claims it (methodClaim). A hands it over
// as for a move by session_id (callmove.go), but only while it still
// qualifies: still detached, or its socket fails a ping. The claim is
// decided on A, once, so two sockets claiming at once from two nodes
// cannot both get it. B then re-points the session's calls quietly
// (Rehome: no call.restored) and replays the frames A kept.

// Methods of a resume without session_id (on the node holding sessions).
const (
	methodCandidates = "session.candidates"
	methodClaim      = "session.claim"
)

type candidatesMsg struct {
	User ident.UserID `json:"user"`
}

type candidatesReply struct {
	Sessions []signal.Candidate `json:"sessions,omitempty"`
}

func (r *callRelay) startResume(node *cluster.Node) error {
	if err := node.Handle(cluster.NodeSubject(node.ID(), methodCandidates), r.onCandidates); err != nil {
		return err
	}
	return node.Handle(cluster.NodeSubject(node.ID(), methodClaim), r.onClaim)
}

// Candidates (the new socket's node) asks the other nodes holding the
// user's WebRTC sessions which of them would qualify there.
func (m sessionMover) Candidates(ctx context.Context, user ident.UserID) []signal.Candidate {
	r := m.r
	node := r.node()
	if node == nil {
		return nil
	}
	locs, err := node.Lookup(ctx, string(user))
	if err != nil {
		r.log.Warn("cluster: implicit resume: lookup", "user", user, "err", err)
		return nil
	}
	nodes := map[string]bool{}
	for _, l := range locs {
		if l.Kind == cluster.KindWebRTC && l.Node != node.ID() {
			nodes[l.Node] = true
		}
	}
	var (
		mu  sync.Mutex
		out []signal.Candidate
		wg  sync.WaitGroup
	)
	for n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep, err := cluster.Request[candidatesReply](ctx, node, cluster.NodeSubject(n, methodCandidates), candidatesMsg{User: user})
			if err != nil {
				r.log.Info("cluster: implicit resume: candidates", "node", n, "user", user, "err", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, c := range rep.Sessions {
				c.Node = n
				out = append(out, c)
			}
		}()
	}
	wg.Wait()
	return out
}

// Claim (the new socket's node) asks c.Node for session c.
func (m sessionMover) Claim(ctx context.Context, c signal.Candidate, user ident.UserID) (signal.Released, bool) {
	r := m.r
	node := r.node()
	if node == nil || c.Node == "" || c.Node == node.ID() {
		return signal.Released{}, false
	}
	start := time.Now()
	until := start.Add(claimMargin)
	if dl, ok := ctx.Deadline(); ok {
		until = dl.Add(-claimMargin)
	}
	rep, err := cluster.Request[handoverReply](ctx, node, cluster.NodeSubject(c.Node, methodClaim),
		handoverMsg{From: node.ID(), Session: c.Session, User: user, Until: until})
	if err != nil {
		r.log.Info("cluster: implicit resume: claim refused", "node", c.Node, "session", c.Session, "err", err)
		return signal.Released{}, false
	}
	r.arrived(c.Session, rep.Calls, node.ID())
	r.log.Info("cluster: session claimed here without session_id", "from", c.Node, "session", c.Session,
		"calls", len(rep.Calls), "took", time.Since(start))
	return rep.Released, true
}

// claimMargin is how long before the claiming node gives up the node
// holding the session stops letting it go: the reply must get back in
// time.
const claimMargin = time.Second

// onCandidates (a node holding sessions) lists the user's sessions that
// would qualify.
func (r *callRelay) onCandidates(_ context.Context, raw json.RawMessage) (any, error) {
	var m candidatesMsg
	if err := json.Unmarshal(raw, &m); err != nil || m.User == "" {
		return nil, cluster.Errorf(cluster.CodeBadRequest, "candidates: a user is needed")
	}
	return candidatesReply{Sessions: r.s.Hub.Resumable(m.User)}, nil
}

// onClaim (the node holding the session) lets it go while it still
// qualifies, with the frames it kept, as a hand-over.
func (r *callRelay) onClaim(_ context.Context, raw json.RawMessage) (any, error) {
	var m handoverMsg
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, cluster.Errorf(cluster.CodeBadRequest, "claim: %v", err)
	}
	node := r.node()
	if m.From == "" || m.Session == "" || node == nil {
		return nil, cluster.Errorf(cluster.CodeBadRequest, "claim without node or session")
	}
	var calls map[ident.CallID]string
	rel, ok := r.s.Hub.ReleaseStale(m.Session, m.User, m.Until, func() func() {
		var undo func()
		calls, undo = r.leaving(m.Session, m.From, node.ID())
		return undo
	})
	if !ok {
		return nil, cluster.Errorf(cluster.CodeNotFound, "no session %s to hand over without session_id", m.Session)
	}
	return handoverReply{Released: rel, Calls: calls}, nil
}
