package call

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/emergency"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// The parts of the simulated world that speak the call's edge types: what
// devices send and hear, and the SIP-like party's reports.

func (p *simParty) Held(by protocol.HeldBy) { p.hear(heard{what: "held:" + string(by)}) }
func (p *simParty) Ended(r protocol.EndReason, _ *int) {
	p.hear(heard{what: "ended:" + string(r)})
}
func (p *simParty) Refused(code protocol.ErrorCode, msg string) {
	p.hear(heard{what: "error:" + string(code), info: msg})
}
func (p *simParty) Restored(*protocol.CallRestored) { p.hear(heard{what: "restored"}) }

// simDevice is a device session (a browser tab).
type simDevice struct {
	ear
	id      ident.SessionID
	user    ident.UserID
	offline bool // not offered new calls
	loc     *emergency.Location
	w       *world
	reqs    int
}

func (d *simDevice) SessionID() ident.SessionID { return d.id }
func (d *simDevice) User() ident.UserID         { return d.user }
func (d *simDevice) Account() ident.AccountID   { return "acct_a" }
func (d *simDevice) EmergencyLocation() *emergency.Location {
	d.w.mu.Lock()
	defer d.w.mu.Unlock()
	return d.loc
}
func (d *simDevice) ears() *ear   { return &d.ear }
func (d *simDevice) name() string { return string(d.id) }

// Send records a frame as what the device heard.
func (d *simDevice) Send(msg protocol.Message) {
	h := heard{info: msg}
	switch m := msg.(type) {
	case *protocol.CallTrying:
		h.call, h.what = m.CallID, "trying"
	case *protocol.CallIncoming:
		h.call, h.what = m.CallID, "incoming"
		h.info = Info{From: m.From, FromName: m.FromName, To: m.To}
	case *protocol.SDPOffer:
		h.call, h.what = m.CallID, "offer"
	case *protocol.SDPAnswer:
		h.call, h.what = m.CallID, "answer"
	case *protocol.CallRinging:
		h.call, h.what = m.CallID, "ringing"
	case *protocol.CallAnswered:
		h.call, h.what = m.CallID, "answered"
	case *protocol.CallHeld:
		h.call, h.what = m.CallID, "held:"+string(m.HeldBy)
	case *protocol.CallResumed:
		h.call, h.what = m.CallID, "resumed"
	case *protocol.CallEnded:
		h.call, h.what = m.CallID, "ended:"+string(m.Reason)
	case *protocol.Error:
		h.call, h.what = m.CallID, "error:"+string(m.Code)
	case *protocol.CallRestored:
		h.call, h.what = m.CallID, "restored:"+string(m.State)
		if m.HeldBy != "" {
			h.what += ":" + string(m.HeldBy)
		}
	default:
		h.what = fmt.Sprintf("unexpected %T", msg)
	}
	d.hear(h)
}

// device connects a device session of user.
func (w *world) device(id, user string) *simDevice {
	d := &simDevice{id: ident.SessionID(id), user: ident.UserID(user), w: w}
	w.mu.Lock()
	w.devs = append(w.devs, d)
	w.mu.Unlock()
	return d
}

// dial places a call from d and returns its id, once call.trying came.
func (d *simDevice) dial(dest string) ident.CallID {
	d.w.t.Helper()
	d.send(d.create(dest, "v=0"))
	h := d.w.expect(d, "trying")
	return ident.CallID(h[0].call)
}

func (d *simDevice) create(dest, sdp string) *protocol.CallCreate {
	d.reqs++
	return &protocol.CallCreate{ReqID: fmt.Sprintf("req_%d", d.reqs), Destination: dest, SDP: sdp}
}

func (d *simDevice) send(msg protocol.Message) { d.w.m.Handle(d, msg) }

// answer accepts the call with an SDP answer.
func (d *simDevice) answer(id ident.CallID) {
	d.send(&protocol.CallAnswer{CallID: string(id)})
	d.send(&protocol.SDPAnswer{CallID: string(id), SDP: "answer-" + string(d.id)})
}

func (d *simDevice) reject(id ident.CallID, busy bool) {
	r := protocol.RejectDecline
	if busy {
		r = protocol.RejectBusy
	}
	d.send(&protocol.CallReject{CallID: string(id), Reason: r})
}

func (d *simDevice) hangup(id ident.CallID) { d.send(&protocol.CallHangup{CallID: string(id)}) }
func (d *simDevice) hold(id ident.CallID)   { d.send(&protocol.CallHold{CallID: string(id)}) }
func (d *simDevice) resume(id ident.CallID) { d.send(&protocol.CallResume{CallID: string(id)}) }
func (d *simDevice) mute(id ident.CallID, on bool) {
	if on {
		d.send(&protocol.CallMute{CallID: string(id)})
		return
	}
	d.send(&protocol.CallUnmute{CallID: string(id)})
}
func (d *simDevice) reoffer(id ident.CallID, sdp string) {
	d.send(&protocol.SDPOffer{CallID: string(id), SDP: sdp})
}
func (d *simDevice) candidate(id ident.CallID, c string) {
	d.send(&protocol.ICECandidate{CallID: string(id), Candidate: c})
}
func (d *simDevice) transfer(id ident.CallID, dest string) {
	d.send(&protocol.CallTransfer{CallID: string(id), Destination: dest})
}

// consult starts an attended transfer's consult call and returns its id.
func (d *simDevice) consult(id ident.CallID, dest string) ident.CallID {
	d.w.t.Helper()
	d.reqs++
	d.send(&protocol.CallTransferAttended{CallID: string(id), Step: protocol.StepConsult,
		ReqID: fmt.Sprintf("req_%d", d.reqs), Destination: dest, SDP: "v=0"})
	h := d.w.expect(d, "held:local", "trying")
	return ident.CallID(h[1].call)
}

func (d *simDevice) complete(id ident.CallID) {
	d.send(&protocol.CallTransferAttended{CallID: string(id), Step: protocol.StepComplete, ReqID: "req_complete"})
}

func (d *simDevice) attendedStep(id ident.CallID, step string) {
	d.send(&protocol.CallTransferAttended{CallID: string(id), Step: protocol.TransferStep(step), ReqID: "req_x"})
}


// errorOf returns the error frame's req_id and message of a heard error.
func errorOf(h heard) (reqID, msg string) {
	if e, ok := h.info.(*protocol.Error); ok {
		return e.ReqID, e.Message
	}
	return "", fmt.Sprint(h.info)
}

func endReason(s string) protocol.EndReason { return protocol.EndReason(s) }

func callAnswer(id ident.CallID) protocol.Message { return &protocol.CallAnswer{CallID: string(id)} }

func sdpAnswer(id ident.CallID, sdp string) protocol.Message {
	return &protocol.SDPAnswer{CallID: string(id), SDP: sdp}
}

func requireRestoredMuted(t *testing.T, h heard, muted bool) {
	t.Helper()
	require.Equal(t, muted, h.info.(*protocol.CallRestored).Muted)
}

func requireRestoredInbound(t *testing.T, h heard) {
	t.Helper()
	require.Equal(t, protocol.DirectionInbound, h.info.(*protocol.CallRestored).Direction)
}

func (o *simObserver) CallEnded(dir string, r protocol.EndReason, _ time.Duration, legs []store.LegStats) {
	o.add(fmt.Sprintf("ended:%s:%s:%d", dir, r, len(legs)))
}

// requireLimit requires a rate_limited error naming limit.
func requireLimit(t *testing.T, h heard, limit string) {
	t.Helper()
	require.Equal(t, limit, h.info.(*protocol.Error).Context["limit"])
}

// attended asks for a consult that is expected to fail.
func (d *simDevice) attended(id ident.CallID, dest string) {
	d.reqs++
	d.send(&protocol.CallTransferAttended{CallID: string(id), Step: protocol.StepConsult,
		ReqID: fmt.Sprintf("req_%d", d.reqs), Destination: dest, SDP: "v=0"})
}

// callerID places a call presenting number.
func (d *simDevice) callerID(number string) {
	m := d.create("102", "v=0")
	m.CallerID = number
	d.send(m)
}
