package callwire

import (
	"time"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// party is a leg on a device session: it tells the device in frames,
// under the call id the device knows.
type party struct {
	s    Session
	call ident.CallID
}

func (p party) id() string { return string(p.call) }

func (p party) Key() string  { return string(p.s.SessionID()) }
func (p party) Kind() string { return "webrtc" }

func (p party) Trying(reqID string) {
	p.s.Send(&protocol.CallTrying{CallID: p.id(), ReqID: reqID})
}

func (p party) Incoming(i call.Info, offer string) {
	p.s.Send(&protocol.CallIncoming{CallID: p.id(), From: i.From, FromName: i.FromName, To: i.To})
	p.s.Send(&protocol.SDPOffer{CallID: p.id(), SDP: offer})
}

func (p party) Answer(sdp string) { p.s.Send(&protocol.SDPAnswer{CallID: p.id(), SDP: sdp}) }
func (p party) Ringing()          { p.s.Send(&protocol.CallRinging{CallID: p.id()}) }

func (p party) Answered(at time.Time) {
	p.s.Send(&protocol.CallAnswered{CallID: p.id(), AnsweredAt: at.UTC().Format(time.RFC3339)})
}

func (p party) Held(by call.HeldBy) {
	p.s.Send(&protocol.CallHeld{CallID: p.id(), HeldBy: heldBy(by)})
}

func (p party) Resumed() { p.s.Send(&protocol.CallResumed{CallID: p.id()}) }

// Parked answers call.park with the slot (call.ParkListener).
func (p party) Parked(reqID, slot string) {
	p.s.Send(&protocol.CallParked{ReqID: reqID, CallID: p.id(), Slot: slot})
}

func (p party) Ended(reason call.EndReason, duration *int) {
	p.s.Send(&protocol.CallEnded{CallID: p.id(), Reason: EndReason(reason), DurationSeconds: duration})
}

func (p party) Refused(r call.Refusal) { p.s.Send(ErrorFrame(r, p.call)) }

func (p party) Restored(r call.Restored) {
	m := &protocol.CallRestored{CallID: p.id(), From: r.From, FromName: r.FromName, To: r.To,
		Direction: protocol.DirectionOutbound, State: callStates[r.State], HeldBy: heldBy(r.HeldBy), Muted: r.Muted}
	if r.Inbound {
		m.Direction = protocol.DirectionInbound
	}
	if !r.AnsweredAt.IsZero() {
		at := r.AnsweredAt.UTC().Format(time.RFC3339)
		m.AnsweredAt = &at
	}
	if r.Recording != nil && p.hasFeature(protocol.FeatureRecording) {
		// Like call.recording notices: only a socket that asked for the
		// "recording" feature sees it (older clients never do).
		m.Recording = &protocol.RecordingInfo{RecordingID: string(r.Recording.ID),
			State: protocol.RecordingState(r.Recording.State)}
	}
	p.s.Send(m)
}

func (p party) NewMedia(m call.Media, id ident.LegID) (call.LegMedia, error) {
	return m.NewWebRTC(id)
}

// Quality sends the leg's window as call.quality; the session passes it on
// only to a client that asked for it (authenticate features).
func (p party) Quality(r call.QualityReport) {
	p.s.Send(&protocol.CallQuality{CallID: p.id(), MOS: r.MOS, Loss: r.LossPct, Jitter: r.JitterMs, RTT: r.RTTMs})
}
