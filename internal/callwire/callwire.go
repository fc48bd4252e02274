// Package callwire translates between the browser protocol's call frames
// and the call core's typed commands and events. Frames from a device
// session become call.Commands (Handle); what a call tells a device's
// party becomes frames (party). It is where internal/call meets
// internal/protocol, so the call core never sees the wire format.
package callwire

import (
	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/emergency"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// Session is a device session as the signalling hub holds it.
type Session interface {
	SessionID() ident.SessionID
	User() ident.UserID
	Account() ident.AccountID
	// Send queues a frame for the device; it never blocks.
	Send(msg protocol.Message)
}

// Device is a session as the call core sees it: a call.Device whose
// parties speak frames.
type Device struct{ S Session }

var (
	_ call.Device          = Device{}
	_ call.QualityListener = party{}
)

// SessionID, User and Account are the session's.
func (d Device) SessionID() ident.SessionID { return d.S.SessionID() }
func (d Device) User() ident.UserID         { return d.S.User() }
func (d Device) Account() ident.AccountID   { return d.S.Account() }

// Party is the device's side of the call it knows as id.
func (d Device) Party(id ident.CallID) call.DeviceParty { return party{s: d.S, call: id} }

// EmergencyLocation is the address bound to the session's network, when
// the session can bind one (call.Located).
func (d Device) EmergencyLocation() *emergency.Location {
	if l, ok := d.S.(call.Located); ok {
		return l.EmergencyLocation()
	}
	return nil
}

// Handle translates one call frame from a session and hands it to the
// calls. It never blocks on a call.
func Handle(m *call.Manager, s Session, msg protocol.Message) {
	dev := Device{s}
	if cr, ok := msg.(*protocol.CallCreate); ok {
		m.Create(dev, call.Create{ReqID: cr.ReqID, Destination: cr.Destination, SDP: cr.SDP, CallerID: cr.CallerID})
		return
	}
	id, cmd, ok := Command(msg)
	if !ok {
		s.Send(&protocol.Error{Code: protocol.CodeInvalidMessage, Message: "unexpected " + string(msg.MessageType())})
		return
	}
	m.Command(dev, id, cmd)
}

// Command translates a frame about an existing call into the call id it
// names and the command; ok is false for frames that are no call command.
func Command(msg protocol.Message) (id ident.CallID, cmd call.Command, ok bool) {
	var callID string
	switch m := msg.(type) {
	case *protocol.CallAnswer:
		callID, cmd = m.CallID, call.Answer{}
	case *protocol.CallReject:
		callID, cmd = m.CallID, call.Reject{Busy: m.Reason == protocol.RejectBusy}
	case *protocol.CallHangup:
		callID, cmd = m.CallID, call.Hangup{}
	case *protocol.CallHold:
		callID, cmd = m.CallID, call.Hold{}
	case *protocol.CallResume:
		callID, cmd = m.CallID, call.Resume{}
	case *protocol.CallMute:
		callID, cmd = m.CallID, call.Mute{On: true}
	case *protocol.CallUnmute:
		callID, cmd = m.CallID, call.Mute{On: false}
	case *protocol.CallTransfer:
		callID, cmd = m.CallID, call.Transfer{To: m.Destination}
	case *protocol.CallTransferAttended:
		callID, cmd = m.CallID, call.AttendedTransfer{Step: call.TransferStep(m.Step), ReqID: m.ReqID,
			To: m.Destination, SDP: m.SDP}
	case *protocol.CallPark:
		callID, cmd = m.CallID, call.Park{ReqID: m.ReqID}
	case *protocol.SDPOffer:
		callID, cmd = m.CallID, call.Offer{SDP: m.SDP}
	case *protocol.SDPAnswer:
		callID, cmd = m.CallID, call.AnswerSDP{SDP: m.SDP}
	case *protocol.ICECandidate:
		callID, cmd = m.CallID, call.Candidate{Candidate: m.Candidate, Mid: m.SDPMid, Index: m.SDPMLineIndex}
	case *protocol.ICEDone:
		callID, cmd = m.CallID, call.CandidatesDone{}
	case *protocol.CallRecord:
		callID, cmd = m.CallID, recordCommand(m)
	default:
		return conferenceCommand(msg)
	}
	return ident.CallID(callID), cmd, true
}
