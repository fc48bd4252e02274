package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/callwire"
	"github.com/switchboard-voice/switchboard/internal/cluster"
	"github.com/switchboard-voice/switchboard/internal/emergency"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/signal"
)

// callRelay carries calls across nodes (see remoteparty.go). On the
// owner it answers methodCommand and relays parties' news; on a device's
// node it answers methodParty and forwards the session's commands about
// calls other nodes own.
type callRelay struct {
	s    *Server
	link *clusterLink
	log  *slog.Logger
	out  *outbox // set by start, before joined is closed

	mu sync.Mutex
	// remote: device side, each session's calls owned by other nodes
	// (call → owner), learnt from the owners' party messages.
	remote map[ident.SessionID]map[ident.CallID]string
	// legs: owner side, the remote devices in this node's calls, by node.
	legs map[string]map[remoteLeg]remoteDevice
	// looked: owner side, users' registry entries just read (lookup).
	looked map[ident.UserID]cachedLookup
	// moving: sessions that just moved here, until restored; moved:
	// sessions that moved from here to another node (callmove.go).
	moving map[ident.SessionID]bool
	moved  map[ident.SessionID]movedAway
	// placed: device side, call.creates handed to other nodes (placement.go).
	placed placedReqs
}

// commandMsg is what a device's node forwards to a call's owner.
type commandMsg struct {
	From    string          `json:"from"` // the device's node
	Op      string          `json:"op"`
	Session ident.SessionID `json:"session"`
	User    ident.UserID    `json:"user"`
	Account ident.AccountID `json:"account"`
	// Frame is the session's frame (opFrame), as the device sent it.
	Frame json.RawMessage `json:"frame,omitempty"`
	// Moved (opRestore): the session moved to From from another node.
	Moved bool `json:"moved,omitempty"`
	// Quiet (opRestore with Moved): no call.restored; the session was
	// resumed without session_id (callresume.go).
	Quiet bool `json:"quiet,omitempty"`
	// Location (opCreate) is the emergency address the session bound.
	Location *emergency.Location `json:"location,omitempty"`
}

// codeNotConnected answers a call.incoming for a session whose socket is
// away (in its reconnect grace): it is not rung, as on a single node.
const codeNotConnected = "not_connected"

// Command operations.
const (
	opFrame   = "frame"   // a call frame from the session
	opGone    = "gone"    // the session ended
	opRestore = "restore" // the session resumed: describe its calls
)

func newCallRelay(l *clusterLink) *callRelay {
	return &callRelay{s: l.s, link: l, log: l.log, remote: map[ident.SessionID]map[ident.CallID]string{},
		legs: map[string]map[remoteLeg]remoteDevice{}, looked: map[ident.UserID]cachedLookup{},
		moving: map[ident.SessionID]bool{}, moved: map[ident.SessionID]movedAway{}}
}

// start answers the relay's requests on node.
func (r *callRelay) start(node *cluster.Node) error {
	r.out = newOutbox(node, r.log)
	if err := node.Handle(cluster.NodeSubject(node.ID(), methodParty), r.onParty); err != nil {
		return err
	}
	if err := node.Handle(cluster.NodeSubject(node.ID(), methodHandover), r.onHandover); err != nil {
		return err
	}
	if err := r.startResume(node); err != nil {
		return err
	}
	return node.Handle(cluster.NodeSubject(node.ID(), methodCommand), r.onCommand)
}

func (r *callRelay) close() {
	if r.out != nil {
		r.out.close()
	}
}

// node is the cluster node once joined (nil before).
func (r *callRelay) node() *cluster.Node {
	select {
	case <-r.link.joined:
		return r.link.node
	default:
		return nil
	}
}

// toParty queues m for the device's node. A node that has no such
// session, or does not answer, loses the device from its calls.
func (r *callRelay) toParty(d remoteDevice, m partyMsg) {
	node := r.node()
	if node == nil {
		return
	}
	m.Owner = node.ID()
	r.noteLeg(d, m)
	r.out.send(d.node, cluster.NodeSubject(d.node, methodParty), m, func(err error) {
		var ce *cluster.Error
		if errors.As(err, &ce) && ce.Code == codeNotConnected {
			r.s.Calls.LeaveCall(d, m.CallID) // as a local session away is not rung
			return
		}
		if errors.As(err, &ce) && (ce.Code == cluster.CodeNotFound || ce.Code == cluster.CodeUnavailable) {
			r.log.Info("cluster: remote device gone", "node", d.node, "session", d.sess, "err", err)
			r.s.Calls.DeviceGone(d)
			return
		}
		r.log.Warn("cluster: relay to device", "node", d.node, "session", d.sess, "method", m.Method, "err", err)
	})
}

// onParty (device's node) turns an owner's party message into frames on
// the local session.
func (r *callRelay) onParty(_ context.Context, raw json.RawMessage) (any, error) {
	var m partyMsg
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, cluster.Errorf(cluster.CodeBadRequest, "party message: %v", err)
	}
	sess := r.s.Hub.Session(m.Session)
	if sess == nil {
		sess = r.arriving(m.Session)
	}
	if sess == nil && r.passOn(m) {
		return struct{}{}, nil
	}
	if sess == nil {
		return nil, cluster.Errorf(cluster.CodeNotFound, "no session %s", m.Session)
	}
	if m.Method == pmIncoming && !sess.Connected() {
		return nil, cluster.Errorf(codeNotConnected, "session %s is away", m.Session)
	}
	if m.CallID != "" && (joins(m.Method) || m.Method == pmEnded) {
		r.track(m.Session, m.CallID, m.Owner, m.Method != pmEnded)
	}
	p := callwire.Device{S: sess}.Party(m.CallID)
	switch m.Method {
	case pmTrying:
		p.Trying(m.ReqID)
	case pmIncoming:
		if m.Info == nil {
			return nil, cluster.Errorf(cluster.CodeBadRequest, "incoming without info")
		}
		p.Incoming(*m.Info, m.SDP)
	case pmAnswer:
		p.Answer(m.SDP)
	case pmRinging:
		p.Ringing()
	case pmAnswered:
		p.Answered(m.At)
	case pmHeld:
		p.Held(m.HeldBy)
	case pmResumed:
		p.Resumed()
	case pmEnded:
		p.Ended(m.Reason, m.Duration)
	case pmRefused:
		if m.Refusal != nil {
			p.Refused(*m.Refusal)
		}
	case pmRestored:
		if m.Restored != nil {
			p.Restored(*m.Restored)
		}
	case pmQuality:
		if q, ok := p.(call.QualityListener); ok && m.Quality != nil {
			q.Quality(*m.Quality)
		}
	case pmParked:
		if l, ok := p.(call.ParkListener); ok {
			l.Parked(m.ReqID, m.Slot)
		}
	case pmRecording:
		if l, ok := p.(call.RecordingListener); ok && m.Recording != nil {
			l.RecordingChanged(*m.Recording)
		}
	case pmConference:
		if l, ok := p.(call.ConferenceListener); ok && m.Conference != nil {
			l.Conference(*m.Conference)
		}
	default:
		return nil, cluster.Errorf(cluster.CodeBadRequest, "unknown party method %q", m.Method)
	}
	return struct{}{}, nil
}

// track notes (live) or forgets a session's call owned by owner.
func (r *callRelay) track(sess ident.SessionID, id ident.CallID, owner string, live bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	calls := r.remote[sess]
	if !live {
		delete(calls, id)
		if len(calls) == 0 {
			delete(r.remote, sess)
		}
		return
	}
	if calls == nil {
		calls = map[ident.CallID]string{}
		r.remote[sess] = calls
	}
	calls[id] = owner
}

// knows says whether owner told the session of call id.
func (r *callRelay) knows(sess ident.SessionID, id ident.CallID, owner string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.remote[sess][id] == owner
}

// owners lists the nodes owning the session's remote calls; forget drops
// them too.
func (r *callRelay) owners(sess ident.SessionID, forget bool) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, o := range r.remote[sess] {
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	if forget {
		delete(r.remote, sess)
	}
	return out
}

// forward sends a session's frame about a call another node owns to that
// node; it returns false for frames this node handles itself.
func (r *callRelay) forward(s *signal.Session, msg protocol.Message) bool {
	id, _, ok := callwire.Command(msg)
	node := r.node()
	if !ok || node == nil {
		return false
	}
	owner := r.placedOwner(s, id) // a req_id of a create handed over
	if owner == "" {
		owner = id.Node()
		if owner == "" || owner == node.ID() {
			return false
		}
		// Only calls an owner told this session about are forwarded: a call
		// id the client made up (any node name) is not found here, and
		// never makes a relay queue for a node that does not exist.
		if !r.knows(s.SessionID(), id, owner) {
			return false
		}
	}
	frame, err := protocol.Encode(msg)
	if err != nil {
		return false
	}
	r.command(s, owner, opFrame, frame, func(err error) {
		s.Send(&protocol.Error{Code: protocol.CodeCallNotFound, CallID: string(id),
			Message: "the node running this call does not answer: " + err.Error()})
	})
	return true
}

func (r *callRelay) command(s *signal.Session, owner, op string, frame json.RawMessage, failed func(error)) {
	node := r.node()
	if node == nil {
		return
	}
	m := commandMsg{From: node.ID(), Op: op, Session: s.SessionID(), User: s.User(), Account: s.Account(), Frame: frame}
	if failed == nil {
		failed = func(err error) { r.log.Info("cluster: relay to owner", "node", owner, "op", op, "err", err) }
	}
	r.out.send(owner, cluster.NodeSubject(owner, methodCommand), m, failed)
}

// sessionEnded tells the owners of the session's remote calls.
func (r *callRelay) sessionEnded(s *signal.Session) {
	r.placed.drop(s.SessionID(), "")
	for _, o := range r.owners(s.SessionID(), true) {
		r.command(s, o, opGone, nil, nil)
	}
}

// sessionRestored asks the owners to describe the session's remote calls
// and waits for them (as the local calls are waited for), so that
// call.restored goes out before the frames kept while the socket was away.
// moved: the session just moved here (the owners re-point its legs);
// quiet: they send no call.restored.
func (r *callRelay) sessionRestored(s *signal.Session, moved, quiet bool) {
	node := r.node()
	if node == nil {
		return
	}
	for _, o := range r.owners(s.SessionID(), false) {
		ctx, cancel := context.WithTimeout(context.Background(), relayTimeout)
		m := commandMsg{From: node.ID(), Op: opRestore, Session: s.SessionID(), User: s.User(), Account: s.Account(), Moved: moved, Quiet: quiet}
		if _, err := cluster.Request[struct{}](ctx, node, cluster.NodeSubject(o, methodCommand), m); err != nil {
			r.log.Info("cluster: restore: owner", "node", o, "err", err)
		}
		cancel()
	}
}

func (r *callRelay) hasCalls(s *signal.Session) bool { return len(r.owners(s.SessionID(), false)) > 0 }

// onCommand (owner) runs a remote session's command as if it were local.
func (r *callRelay) onCommand(_ context.Context, raw json.RawMessage) (any, error) {
	var m commandMsg
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, cluster.Errorf(cluster.CodeBadRequest, "command: %v", err)
	}
	if m.From == "" || m.Session == "" {
		return nil, cluster.Errorf(cluster.CodeBadRequest, "command without node or session")
	}
	dev := remoteDevice{r: r, node: m.From, sess: m.Session, user: m.User, account: m.Account}
	switch m.Op {
	case opFrame:
		msg, err := protocol.DecodeClient(m.Frame)
		if err != nil {
			return nil, cluster.Errorf(cluster.CodeBadRequest, "frame: %v", err)
		}
		id, cmd, ok := callwire.Command(msg)
		if !ok {
			return nil, cluster.Errorf(cluster.CodeBadRequest, "not a call command: %s", msg.MessageType())
		}
		r.s.Calls.Command(dev, id, cmd)
	case opCreate:
		if err := r.onCreate(dev, m); err != nil {
			return nil, err
		}
	case opGone:
		r.s.Calls.DeviceGone(dev)
	case opRestore:
		// The device's node waits for this reply before it sends what it
		// kept for the session: call.restored must reach it first.
		switch {
		case m.Moved && m.Quiet:
			r.forgetLegs(dev.sess)
			r.s.Calls.Rehome(dev)
		case m.Moved:
			r.forgetLegs(dev.sess) // the legs on the node it left
			r.s.Calls.RestoreMoved(dev)
		default:
			r.s.Calls.Restore(dev)
		}
		r.out.flushed(dev.node, relayTimeout)
	default:
		return nil, cluster.Errorf(cluster.CodeBadRequest, "unknown op %q", m.Op)
	}
	return struct{}{}, nil
}

var _ call.Devices = clusterDevices{}
