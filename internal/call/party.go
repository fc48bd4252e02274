package call

import (
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// Party is the signalling side of a leg: how the call tells whatever is at
// the far end what happened. A device session speaks protocol frames
// (devicePart); a SIP leg speaks SIP. The actor only calls these methods.
type Party interface {
	// Key identifies the party among a call's legs (a session id, a dialog id).
	Key() string
	// Kind is "webrtc" or "sip", for call records.
	Kind() string
	// Incoming alerts a callee with the server's offer.
	Incoming(info Info, offer string)
	// Answer delivers the server's SDP answer to the party's offer.
	Answer(sdp string)
	// Ringing tells a caller the far end is alerting.
	Ringing()
	// Answered tells the party the call is connected.
	Answered(at time.Time)
	// Held and Resumed report hold changes from this party's point of view.
	Held(by protocol.HeldBy)
	Resumed()
	// Ended is the last thing a party hears; duration is nil when the call
	// was never answered.
	Ended(reason protocol.EndReason, duration *int)
	// Refused answers a request of the party that the call did not accept.
	Refused(code protocol.ErrorCode, msg string)
	// Restored describes the call after the party's session resumed.
	Restored(r *protocol.CallRestored)
	// NewMedia makes the party's media endpoint.
	NewMedia(m Media, id ident.LegID) (LegMedia, error)
}

// Info is what a callee is told about an incoming call.
type Info struct {
	From, FromName, To string
}

// devicePart is a leg on a device session (browser, softphone).
type devicePart struct {
	dev  Device
	call ident.CallID
}

func (d devicePart) id() string { return string(d.call) }

func (d devicePart) Key() string  { return string(d.dev.SessionID()) }
func (d devicePart) Kind() string { return "webrtc" }
func (d devicePart) Incoming(i Info, offer string) {
	d.dev.Send(&protocol.CallIncoming{CallID: d.id(), From: i.From, FromName: i.FromName, To: i.To})
	d.dev.Send(&protocol.SDPOffer{CallID: d.id(), SDP: offer})
}
func (d devicePart) Answer(sdp string) { d.dev.Send(&protocol.SDPAnswer{CallID: d.id(), SDP: sdp}) }
func (d devicePart) Ringing()          { d.dev.Send(&protocol.CallRinging{CallID: d.id()}) }
func (d devicePart) Answered(at time.Time) {
	d.dev.Send(&protocol.CallAnswered{CallID: d.id(), AnsweredAt: at.UTC().Format(time.RFC3339)})
}
func (d devicePart) Held(by protocol.HeldBy) {
	d.dev.Send(&protocol.CallHeld{CallID: d.id(), HeldBy: by})
}
func (d devicePart) Resumed() { d.dev.Send(&protocol.CallResumed{CallID: d.id()}) }
func (d devicePart) Ended(reason protocol.EndReason, duration *int) {
	d.dev.Send(&protocol.CallEnded{CallID: d.id(), Reason: reason, DurationSeconds: duration})
}
func (d devicePart) Refused(code protocol.ErrorCode, msg string) {
	d.dev.Send(&protocol.Error{Code: code, CallID: d.id(), Message: msg})
}
func (d devicePart) Restored(r *protocol.CallRestored) {
	m := *r
	m.CallID = d.id() // a leg joined from another call keeps that call's id
	d.dev.Send(&m)
}
func (d devicePart) NewMedia(m Media, id ident.LegID) (LegMedia, error) {
	return m.NewWebRTC(id)
}
