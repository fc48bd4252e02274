package call

import "github.com/switchboard-voice/switchboard/internal/ident"

// Command is what a device asks of a call it is a party to (the browser
// protocol's call frames, translated by internal/callwire). Each is
// applied by the call's actor, in the order the device sent them.
type Command interface{ command() }

// Answer takes a ringing call (call.answer).
type Answer struct{}

// AnswerSDP is the device's answer to the server's offer (sdp.answer).
type AnswerSDP struct{ SDP string }

// Reject declines a ringing call; Busy says the user is busy (call.reject).
type Reject struct{ Busy bool }

// Hangup ends the device's part: the call for the caller or the answering
// device, a decline for a ringing one (call.hangup).
type Hangup struct{}

// Hold and Resume put the call on hold from this side and take it off
// (call.hold, call.resume).
type (
	Hold   struct{}
	Resume struct{}
)

// Mute has the server send silence in place of the device's audio, or stop
// doing so (call.mute, call.unmute).
type Mute struct{ On bool }

// Offer is a new SDP offer from the device (sdp.offer): a renegotiation.
type Offer struct{ SDP string }

// Candidate is a trickled ICE candidate (ice.candidate).
type Candidate struct {
	Candidate string
	Mid       string
	Index     uint16
}

// CandidatesDone ends the device's trickling (ice.done).
type CandidatesDone struct{}

// Transfer is a blind transfer of the other party to To (call.transfer).
type Transfer struct{ To string }

// TransferStep is a step of an attended transfer.
type TransferStep string

// Attended transfer steps.
const (
	StepConsult  TransferStep = "consult"  // place the consult call
	StepComplete TransferStep = "complete" // join the other parties
)

// AttendedTransfer is a step of an attended transfer
// (call.transfer.attended): consult places a call to To with the device's
// SDP offer while the original is held; complete joins the two other
// parties. ReqID is echoed in refusals.
type AttendedTransfer struct {
	Step  TransferStep
	ReqID string
	To    string
	SDP   string
}

// Create places a call from a device (call.create).
type Create struct {
	ReqID       string
	Destination string
	SDP         string
	// CallerID is the number to present (an E.164 number the account owns).
	CallerID string
}

func (Answer) command()           {}
func (AnswerSDP) command()        {}
func (Reject) command()           {}
func (Hangup) command()           {}
func (Hold) command()             {}
func (Resume) command()           {}
func (Mute) command()             {}
func (Offer) command()            {}
func (Candidate) command()        {}
func (CandidatesDone) command()   {}
func (Transfer) command()         {}
func (AttendedTransfer) command() {}

// isTrickle reports whether cmd is advisory ICE trickling: a stray one is
// no error.
func isTrickle(cmd Command) bool {
	switch cmd.(type) {
	case Candidate, CandidatesDone:
		return true
	}
	return false
}

// reqIDOf is the request id a refusal of cmd echoes.
func reqIDOf(cmd Command) string {
	switch a := cmd.(type) {
	case AttendedTransfer:
		return a.ReqID
	case Park:
		return a.ReqID
	}
	if r, ok := cmd.(interface{ requestID() string }); ok { // conference.go
		return r.requestID()
	}
	return ""
}

// Device is a connected device session (a browser tab, a softphone).
type Device interface {
	SessionID() ident.SessionID
	User() ident.UserID
	Account() ident.AccountID
	// Party is the device's side of the call it knows as id: how that
	// call (or, with id empty, a refused request) speaks to it.
	Party(id ident.CallID) DeviceParty
}

// DeviceParty is a Party on a device session; it also hears the call's
// acknowledgement of the request that created it.
type DeviceParty interface {
	Party
	// Trying acknowledges the request reqID: the call exists.
	Trying(reqID string)
}
