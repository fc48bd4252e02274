package server

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/callwire"
	"github.com/switchboard-voice/switchboard/internal/cluster"
	"github.com/switchboard-voice/switchboard/internal/emergency"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/signal"
)

// Placement (docs/adr/0009-cross-node-calls.md, decision 9): a node at its
// ceiling (cluster.max_calls or cluster.max_cpu) hands a device's
// call.create to the least-loaded peer with room (opCreate). The peer
// creates the call with the session as a remoteDevice and owns it, as if
// the device were ringing there: its news comes back through the party
// relay, and the device's later frames go to it by call id (forward).
// Candidates the device trickles under the create's req_id before it
// learns the call id go to the peer by req_id (placedReqs). A peer that is
// full too, or does not answer, gives the call back: it is placed here
// after all, which refuses it as a single node would.

// opCreate is a device's call.create handed to a node with room.
const opCreate = "create"

// codeNodeFull answers an opCreate on a node at its ceiling.
const codeNodeFull = "node_full"

// Requests handed to a peer are remembered for as long as a req_id
// stands for its call on the owner (call.reqTTL), a few per session.
const (
	placedTTL = time.Minute
	maxPlaced = 8
)

// placedReq is a call.create handed to owner.
type placedReq struct {
	reqID string
	owner string
	at    time.Time
}

// placedReqs holds, per session, the requests handed to other nodes.
type placedReqs struct {
	mu       sync.Mutex
	sessions map[ident.SessionID][]placedReq
}

func (p *placedReqs) add(sess ident.SessionID, reqID, owner string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sessions == nil {
		p.sessions = map[ident.SessionID][]placedReq{}
	}
	list := p.pruneLocked(sess)
	if len(list) >= maxPlaced {
		list = append(list[:0], list[len(list)-maxPlaced+1:]...)
	}
	p.sessions[sess] = append(list, placedReq{reqID: reqID, owner: owner, at: time.Now()})
}

// owner is the node a session's reqID was handed to ("" none).
func (p *placedReqs) owner(sess ident.SessionID, reqID string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.pruneLocked(sess) {
		if r.reqID == reqID {
			return r.owner
		}
	}
	return ""
}

// drop forgets one request (reqID set) or all of a session's.
func (p *placedReqs) drop(sess ident.SessionID, reqID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if reqID == "" {
		delete(p.sessions, sess)
		return
	}
	list := p.pruneLocked(sess)
	keep := list[:0]
	for _, r := range list {
		if r.reqID != reqID {
			keep = append(keep, r)
		}
	}
	p.store(sess, keep)
}

func (p *placedReqs) pruneLocked(sess ident.SessionID) []placedReq {
	list := p.sessions[sess]
	cut := time.Now().Add(-placedTTL)
	keep := list[:0]
	for _, r := range list {
		if r.at.After(cut) {
			keep = append(keep, r)
		}
	}
	p.store(sess, keep)
	return keep
}

func (p *placedReqs) store(sess ident.SessionID, list []placedReq) {
	if len(list) == 0 {
		delete(p.sessions, sess)
		return
	}
	p.sessions[sess] = list
}

// overflow (call.Options.Overflow) hands a local session's call.create
// to the peer with room, as of the last heartbeat. A remote session's
// create (one handed here) is never handed on again.
func (r *callRelay) overflow(dev call.Device, cr call.Create, early []call.Candidate, here func()) bool {
	return r.handOver(dev, cr, early, r.link.peerWithRoom(), "cluster: call handed to a peer with room", here)
}

// handOver hands a local session's call.create to peer (logging why): the
// peer creates the call and owns it; here places it on this node after
// all when the peer refuses it for certain.
func (r *callRelay) handOver(dev call.Device, cr call.Create, early []call.Candidate, peer, why string, here func()) bool {
	d, ok := dev.(callwire.Device)
	if !ok {
		return false
	}
	s, ok := d.S.(*signal.Session)
	if !ok || peer == "" || r.node() == nil {
		return false
	}
	frame, err := protocol.Encode(&protocol.CallCreate{ReqID: cr.ReqID, Destination: cr.Destination, SDP: cr.SDP,
		CallerID: cr.CallerID})
	if err != nil {
		return false
	}
	if cr.ReqID != "" {
		r.placed.add(s.SessionID(), cr.ReqID, peer)
	}
	r.log.Info(why, "peer", peer, "session", s.SessionID(), "req_id", cr.ReqID)
	r.commandWith(s, peer, commandMsg{Op: opCreate, Frame: frame, Location: d.EmergencyLocation()}, func(err error) {
		r.placed.drop(s.SessionID(), cr.ReqID)
		switch {
		case r.s.Hub.Session(s.SessionID()) != s:
			r.log.Info("cluster: the peer did not take the call; its session has ended", "peer", peer, "err", err)
		case peerRefused(err):
			r.log.Info("cluster: the peer did not take the call: placed here", "peer", peer, "err", err)
			here()
		default:
			// No answer in time: the peer may yet create the call, so it
			// is not placed here too (the callee would ring twice).
			r.log.Info("cluster: the peer did not answer the hand-over in time: refused", "peer", peer, "err", err)
			dev.Party("").Refused(call.Refusal{Code: call.CodeFailed, ReqID: cr.ReqID,
				Msg: "the node taking this call did not answer in time: try again"})
		}
	})
	for _, c := range early { // trickled before the request: by req_id too
		f, err := protocol.Encode(&protocol.ICECandidate{CallID: cr.ReqID, Candidate: c.Candidate, SDPMid: c.Mid,
			SDPMLineIndex: c.Index})
		if err == nil {
			r.command(s, peer, opFrame, f, nil)
		}
	}
	return true
}

// peerRefused says whether a hand-over failed for certain: the peer
// answered that it is full, or nobody listens on its subject (it is gone),
// or the message never left this node. A timeout is not: the peer may have
// created the call after all.
func peerRefused(err error) bool {
	var ce *cluster.Error
	if errors.As(err, &ce) {
		return ce.Code == codeNodeFull || ce.Code == cluster.CodeUnavailable
	}
	return errors.Is(err, errNotSent)
}

// commandWith queues m, from session s, for owner.
func (r *callRelay) commandWith(s *signal.Session, owner string, m commandMsg, failed func(error)) {
	node := r.node()
	if node == nil {
		return
	}
	m.From, m.Session, m.User, m.Account = node.ID(), s.SessionID(), s.User(), s.Account()
	r.out.send(owner, cluster.NodeSubject(owner, methodCommand), m, failed)
}

// onCreate (the peer) creates a call.create handed over by a full node,
// unless this node is at its ceiling too (a pickup of a call parked here
// is taken whatever the ceiling: it takes the parked call's place).
func (r *callRelay) onCreate(dev remoteDevice, m commandMsg) error {
	msg, err := protocol.DecodeClient(m.Frame)
	if err != nil {
		return cluster.Errorf(cluster.CodeBadRequest, "frame: %v", err)
	}
	cr, ok := msg.(*protocol.CallCreate)
	if !ok {
		return cluster.Errorf(cluster.CodeBadRequest, "not a call.create: %s", msg.MessageType())
	}
	if r.s.Calls.Full() && !r.s.Calls.ParkedHere(m.Account, cr.Destination) {
		return cluster.Errorf(codeNodeFull, "node %s is at its ceiling too", r.s.Config.Cluster.Node())
	}
	var caller call.Device = dev
	if m.Location != nil {
		caller = locatedDevice{remoteDevice: dev, loc: m.Location}
	}
	r.s.Calls.Create(caller, call.Create{ReqID: cr.ReqID, Destination: cr.Destination, SDP: cr.SDP, CallerID: cr.CallerID})
	return nil
}

// locatedDevice is a remote session that bound an emergency address on
// its node: a call it places here carries it.
type locatedDevice struct {
	remoteDevice
	loc *emergency.Location
}

func (d locatedDevice) EmergencyLocation() *emergency.Location { return d.loc }

// placedOwner is the node a session's frame addressed by a req_id (not
// a call id) goes to: the node its call.create was handed to.
func (r *callRelay) placedOwner(s *signal.Session, id ident.CallID) string {
	return r.placed.owner(s.SessionID(), string(id))
}

// cpu is the CPU share the node last measured (0 before it joined).
func (l *clusterLink) cpu() float64 {
	select {
	case <-l.joined:
		return l.node.CPU()
	default:
		return 0
	}
}

// peerSIP is the SIP address of the peer with room, as of the last
// heartbeat ("" none, or one that does not name a host a caller can
// reach: a node listening on every interface).
func (l *clusterLink) peerSIP() string {
	p := l.room.Load()
	if p == nil || p.SIP == "" {
		return ""
	}
	host, _, err := net.SplitHostPort(p.SIP)
	if err != nil || host == "" {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return ""
	}
	return p.SIP
}
