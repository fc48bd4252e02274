package server

import (
	"context"
	"time"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/cluster"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/sipua"
)

// A call crosses nodes like this (docs/adr/0009-cross-node-calls.md): the
// node that receives a call owns it: it runs the call's actor and anchors
// its media. A device session on another node is, on the owner, a
// remoteDevice whose party relays what the call tells it to the device's
// node (methodParty there), where callRelay turns it into frames on the
// local session. The device's commands about the call go the other way
// (methodCommand on the owner, named by the call id) and run on the owner
// as if the session were local.

// Methods on sb.node.<node>.<method>.
const (
	methodParty   = "call.party"   // owner → device's node: a Party call
	methodCommand = "call.command" // device's node → owner: a device's frame, gone, restore
)

// relayTimeout bounds one relayed message.
const relayTimeout = 3 * time.Second

// partyMsg is one Party method call relayed to a device's node.
type partyMsg struct {
	Owner    string              `json:"owner"`
	Session  ident.SessionID     `json:"session"`
	CallID   ident.CallID        `json:"call_id"`
	Method   string              `json:"method"`
	ReqID    string              `json:"req_id,omitempty"`
	Info     *call.Info          `json:"info,omitempty"`
	SDP      string              `json:"sdp,omitempty"`
	At       time.Time           `json:"at,omitzero"`
	HeldBy   call.HeldBy         `json:"held_by,omitempty"`
	Reason   call.EndReason      `json:"reason,omitempty"`
	Duration *int                `json:"duration,omitempty"`
	Refusal  *call.Refusal       `json:"refusal,omitempty"`
	Restored *call.Restored      `json:"restored,omitempty"`
	Quality  *call.QualityReport `json:"quality,omitempty"`
	// Slot is a park's (pmParked); Recording and Conference are their
	// notices (pmRecording, pmConference).
	Slot       string                `json:"slot,omitempty"`
	Recording  *call.RecordingNotice `json:"recording,omitempty"`
	Conference *call.ConferenceInfo  `json:"conference,omitempty"`
}

// Party methods relayed.
const (
	pmTrying   = "trying"
	pmIncoming = "incoming"
	pmAnswer   = "answer"
	pmRinging  = "ringing"
	pmAnswered = "answered"
	pmHeld     = "held"
	pmResumed  = "resumed"
	pmEnded    = "ended"
	pmRefused  = "refused"
	pmRestored = "restored"
	pmQuality  = "quality"
	// The additions a device only hears when it used them (park,
	// recording, conference): relayed so that a device on another node
	// hears them as a local one does.
	pmParked     = "parked"
	pmRecording  = "recording"
	pmConference = "conference"
)

// remoteDevice is, on the owner, a device session held by another node.
type remoteDevice struct {
	r       *callRelay
	node    string
	sess    ident.SessionID
	user    ident.UserID
	account ident.AccountID
}

var (
	_ call.Device             = remoteDevice{}
	_ call.QualityListener    = remoteParty{}
	_ call.ParkListener       = remoteParty{}
	_ call.RecordingListener  = remoteParty{}
	_ call.ConferenceListener = remoteParty{}
)

func (d remoteDevice) SessionID() ident.SessionID { return d.sess }
func (d remoteDevice) User() ident.UserID         { return d.user }
func (d remoteDevice) Account() ident.AccountID   { return d.account }

func (d remoteDevice) Party(id ident.CallID) call.DeviceParty { return remoteParty{d: d, call: id} }

// remoteParty relays a call's news to a session on another node. Its
// methods queue the message (ordered per node) and never block.
type remoteParty struct {
	d    remoteDevice
	call ident.CallID
}

func (p remoteParty) send(m partyMsg) {
	m.Session, m.CallID = p.d.sess, p.call
	p.d.r.toParty(p.d, m)
}

func (p remoteParty) Key() string  { return string(p.d.sess) }
func (p remoteParty) Kind() string { return "webrtc" }

func (p remoteParty) Trying(reqID string) { p.send(partyMsg{Method: pmTrying, ReqID: reqID}) }

func (p remoteParty) Incoming(i call.Info, offer string) {
	p.send(partyMsg{Method: pmIncoming, Info: &i, SDP: offer})
}

func (p remoteParty) Answer(sdp string)     { p.send(partyMsg{Method: pmAnswer, SDP: sdp}) }
func (p remoteParty) Ringing()              { p.send(partyMsg{Method: pmRinging}) }
func (p remoteParty) Answered(at time.Time) { p.send(partyMsg{Method: pmAnswered, At: at}) }
func (p remoteParty) Held(by call.HeldBy)   { p.send(partyMsg{Method: pmHeld, HeldBy: by}) }
func (p remoteParty) Resumed()              { p.send(partyMsg{Method: pmResumed}) }

func (p remoteParty) Ended(reason call.EndReason, duration *int) {
	p.send(partyMsg{Method: pmEnded, Reason: reason, Duration: duration})
}

func (p remoteParty) Refused(r call.Refusal)   { p.send(partyMsg{Method: pmRefused, Refusal: &r}) }
func (p remoteParty) Restored(r call.Restored) { p.send(partyMsg{Method: pmRestored, Restored: &r}) }

// Quality passes the leg's window on; the device's session sends it only
// when the client asked for it.
func (p remoteParty) Quality(r call.QualityReport) { p.send(partyMsg{Method: pmQuality, Quality: &r}) }

// Parked answers the device's call.park with the slot.
func (p remoteParty) Parked(reqID, slot string) {
	p.send(partyMsg{Method: pmParked, ReqID: reqID, Slot: slot})
}

// RecordingChanged tells the device of the call's recording.
func (p remoteParty) RecordingChanged(n call.RecordingNotice) {
	p.send(partyMsg{Method: pmRecording, Recording: &n})
}

// Conference tells the device, the host, of its conference.
func (p remoteParty) Conference(info call.ConferenceInfo) {
	p.send(partyMsg{Method: pmConference, Conference: &info})
}

// NewMedia makes the leg's WebRTC endpoint here, on the owner: the
// device's ICE and DTLS reach this node directly.
func (p remoteParty) NewMedia(m call.Media, id ident.LegID) (call.LegMedia, error) {
	return m.NewWebRTC(id)
}

// clusterDevices is a user's devices on every node: the local sessions
// and, from the location registry, the sessions other nodes hold.
type clusterDevices struct {
	local hubDevices
	r     *callRelay
}

func (d clusterDevices) UserDevices(user ident.UserID) []call.Device {
	return append(d.local.UserDevices(user), d.r.remoteDevices(user)...)
}

// lookupTimeout bounds the registry lookup made while ringing (on the
// call's actor).
const lookupTimeout = time.Second

// remoteDevices lists user's WebRTC sessions on other nodes (none before
// the node has joined, or when the registry does not answer).
func (r *callRelay) remoteDevices(user ident.UserID) []call.Device {
	node := r.node()
	if node == nil {
		return nil
	}
	locs := r.lookup(node, user)
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	var out []call.Device
	var acct ident.AccountID
	for _, l := range locs {
		if l.Node == node.ID() || l.Kind != cluster.KindWebRTC {
			continue
		}
		if acct == "" {
			u, err := r.s.timed.GetUser(ctx, user)
			if err != nil {
				r.log.Warn("cluster: ring: user", "user", user, "err", err)
				return nil
			}
			acct = u.AccountID
		}
		out = append(out, remoteDevice{r: r, node: l.Node, sess: ident.SessionID(l.Device), user: user, account: acct})
	}
	return out
}

// callDevices is where calls find a user's devices: this node's sessions,
// and in a cluster every node's.
func (s *Server) callDevices() call.Devices {
	if s.cluster == nil {
		return hubDevices{s.Hub}
	}
	return clusterDevices{local: hubDevices{s.Hub}, r: s.cluster.calls}
}

// callHandler is the hub's handler of call frames and session changes.
func (s *Server) callHandler() callHandler {
	h := callHandler{m: s.Calls}
	if s.cluster != nil {
		h.relay = s.cluster.calls
	}
	return h
}

// callPhones is where calls find a user's SIP phones: the ones registered
// here and, in a cluster, phones registered via other nodes (UDP ones rung
// straight from this node, TCP/TLS/WS ones through their node's SIP edge).
func (s *Server) callPhones() call.Phones {
	if s.cluster == nil {
		return s.SIP
	}
	return clusterPhones{ua: s.SIP, r: s.cluster.calls}
}

// clusterPhones adds phones registered via other nodes.
type clusterPhones struct {
	ua *sipua.UA
	r  *callRelay
}

func (p clusterPhones) CalleeParties(user ident.UserID, rem call.Remote) []call.Party {
	out := p.ua.CalleeParties(user, rem)
	if cs := p.r.remoteContacts(user); len(cs) > 0 {
		out = append(out, p.ua.ContactParties(cs, rem)...)
	}
	return out
}

// remoteContacts lists user's SIP phones registered via other nodes:
// UDP phones this node reaches directly, and TCP, TLS and WebSocket
// phones reached through the node that holds their connection (its SIP
// edge, sipedge.go).
func (r *callRelay) remoteContacts(user ident.UserID) []sipua.Contact {
	node := r.node()
	if node == nil {
		return nil
	}
	var out []sipua.Contact
	for _, l := range r.lookup(node, user) {
		if l.Node == node.ID() || l.Kind != cluster.KindSIP {
			continue
		}
		if l.Flow != "" {
			if c, ok := edgeContact(user, l); ok { // through the node holding its connection (sipedge.go)
				out = append(out, c)
			} else {
				r.log.Debug("cluster: ring: phone on a connection held by another node skipped", "user", user, "node", l.Node, "flow", l.Flow)
			}
			continue
		}
		if l.Source == "" {
			continue
		}
		out = append(out, sipua.Contact{User: user, URI: l.Device, Source: l.Source, Transport: "udp", Expires: l.Expires})
	}
	return out
}

// lookupFresh is how long a user's registry entries are reused: ringing a
// user reads them twice in a row (sessions, then phones).
const lookupFresh = 250 * time.Millisecond

// cachedLookup is one user's registry entries as read at.
type cachedLookup struct {
	at   time.Time
	locs []cluster.Location
}

// lookup reads user's entries in the location registry (none when it does
// not answer within lookupTimeout), reusing a read under lookupFresh old.
func (r *callRelay) lookup(node *cluster.Node, user ident.UserID) []cluster.Location {
	now := time.Now()
	r.mu.Lock()
	if c, ok := r.looked[user]; ok && now.Sub(c.at) < lookupFresh {
		r.mu.Unlock()
		return c.locs
	}
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	locs, err := node.Lookup(ctx, string(user))
	if err != nil {
		r.log.Warn("cluster: ring: lookup", "user", user, "err", err)
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for u, c := range r.looked { // a few entries: drop the stale ones
		if now.Sub(c.at) >= lookupFresh {
			delete(r.looked, u)
		}
	}
	r.looked[user] = cachedLookup{at: now, locs: locs}
	return locs
}
