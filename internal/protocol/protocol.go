// Package protocol is the one source of truth for Switchboard's signalling
// protocol v1: every message type, field, error code and end reason on the
// wire, plus the frame codec. The SDK's TypeScript types are generated from
// these declarations (see tsgen.go); docs/protocol.md describes them.
package protocol

// Subprotocols the server selects, best first. The first is the name used by
// existing clients; the second is our alias for the same protocol.
const (
	Subprotocol      = "dialstack.webrtc.v1"
	SubprotocolAlias = "switchboard.v1"
)

// Type is the value of a frame's "type" field.
type Type string

// Client → server message types.
const (
	TypeAuthenticate         Type = "authenticate"
	TypeAuthRefresh          Type = "auth.refresh"
	TypePing                 Type = "ping"
	TypeCallCreate           Type = "call.create"
	TypeCallAnswer           Type = "call.answer"
	TypeCallReject           Type = "call.reject"
	TypeCallHangup           Type = "call.hangup"
	TypeCallHold             Type = "call.hold"
	TypeCallResume           Type = "call.resume"
	TypeCallMute             Type = "call.mute"
	TypeCallUnmute           Type = "call.unmute"
	TypeCallTransfer         Type = "call.transfer"
	TypeCallTransferAttended Type = "call.transfer.attended"
	TypeSDPOffer             Type = "sdp.offer"
	TypeSDPAnswer            Type = "sdp.answer"
	TypeICECandidate         Type = "ice.candidate"
	TypeICEDone              Type = "ice.done"
	TypePresenceSubscribe    Type = "presence.subscribe"
	TypeCallPark             Type = "call.park"
	TypeCallRecord           Type = "call.record" // recording.go
	// Conference requests (conference.go).
	TypeCallMerge             Type = "call.merge"
	TypeCallAdd               Type = "call.add"
	TypeCallParticipantMute   Type = "call.participant.mute"
	TypeCallParticipantRemove Type = "call.participant.remove"
)

// Server → client message types (sdp.offer, sdp.answer, ice.candidate and
// ice.done travel both ways).
const (
	TypeAuthenticated  Type = "authenticated"
	TypeAuthRefreshed  Type = "auth.refreshed"
	TypePong           Type = "pong"
	TypeError          Type = "error"
	TypeCallTrying     Type = "call.trying"
	TypeCallRinging    Type = "call.ringing"
	TypeCallIncoming   Type = "call.incoming"
	TypeCallAnswered   Type = "call.answered"
	TypeCallEnded      Type = "call.ended"
	TypeCallRestored   Type = "call.restored"
	TypeCallHeld       Type = "call.held"
	TypeCallResumed    Type = "call.resumed"
	TypeCallQuality    Type = "call.quality"
	TypeSDPPranswer    Type = "sdp.pranswer"
	TypePresenceList   Type = "presence.list"
	TypePresenceUpdate Type = "presence.update"
	// TypeNetworkChanged: the emergency address the socket presented is
	// not bound to the network it comes from (see NetworkChanged).
	TypeNetworkChanged Type = "network.changed"
	TypeCallParked     Type = "call.parked"
	TypeCallRecording  Type = "call.recording" // recording.go
	// TypeConferenceUpdated lists a conference's participants to its host.
	TypeConferenceUpdated Type = "conference.updated"
)

// ErrorCode is the "code" of an error frame.
type ErrorCode string

// Error codes (protocol §5).
const (
	CodeAuthFailed          ErrorCode = "auth_failed"
	CodeAuthExpired         ErrorCode = "auth_expired"
	CodeSessionRevoked      ErrorCode = "session_revoked"
	CodeSessionReplaced     ErrorCode = "session_replaced"
	CodeSessionLimit        ErrorCode = "session_limit"
	CodeIdleTimeout         ErrorCode = "idle_timeout"
	CodeSlowConsumer        ErrorCode = "slow_consumer"
	CodeGoingAway           ErrorCode = "going_away"
	CodeInvalidMessage      ErrorCode = "invalid_message"
	CodeCallFailed          ErrorCode = "call_failed"
	CodeCallNotFound        ErrorCode = "call_not_found"
	CodeRateLimited         ErrorCode = "rate_limited"
	CodePresenceUnavailable ErrorCode = "presence_unavailable"
	CodeInternalError       ErrorCode = "internal_error"
	// CodeEmergencyAddressRequired: the account requires an emergency
	// address bound to the device's network for calls through trunks.
	CodeEmergencyAddressRequired ErrorCode = "emergency_address_required"
	// CodeParkFull: call.park found every park slot of the account taken.
	CodeParkFull ErrorCode = "park_full"
	// CodeConferenceFull: call.merge would take the conference past
	// conference.max_participants.
	CodeConferenceFull ErrorCode = "conference_full"
)

// Fatal reports whether an error with this code closes the socket.
func (c ErrorCode) Fatal() bool {
	switch c {
	case CodeAuthFailed, CodeAuthExpired, CodeSessionRevoked, CodeSessionReplaced,
		CodeSessionLimit, CodeIdleTimeout, CodeSlowConsumer, CodeGoingAway:
		return true
	}
	return false
}

// EndReason is why a call ended (call.ended "reason").
type EndReason string

// End reasons (exact strings on the wire).
const (
	EndUnknown           EndReason = ""
	EndHangup            EndReason = "hangup"
	EndBusy              EndReason = "busy"
	EndNoAnswer          EndReason = "no-answer"
	EndFailed            EndReason = "failed"
	EndTransferred       EndReason = "transferred"
	EndRejected          EndReason = "rejected"
	EndAnsweredElsewhere EndReason = "answered-elsewhere"
	// EndServerShutdown: the server ended a live call as it stopped (a
	// second SIGTERM, or shutdown.drain_timeout passed while draining).
	EndServerShutdown EndReason = "server-shutdown"
	// EndMerged: the device merged this call into its other call
	// (call.merge); the conversation goes on under that call's id.
	EndMerged EndReason = "merged"
)

// RejectReason is the optional reason of call.reject.
type RejectReason string

// Reject reasons.
const (
	RejectDecline RejectReason = "decline"
	RejectBusy    RejectReason = "busy"
)

// HeldBy says which side put a call on hold.
type HeldBy string

// Hold sides.
const (
	HeldLocal  HeldBy = "local"
	HeldRemote HeldBy = "remote"
)

// CallState is a call's state as reported in call.restored.
type CallState string

// Restorable call states.
const (
	StateRinging CallState = "ringing"
	StateActive  CallState = "active"
	StateHeld    CallState = "held"
)

// Direction is a call's direction from the device's point of view.
type Direction string

// Directions.
const (
	DirectionInbound  Direction = "inbound"
	DirectionOutbound Direction = "outbound"
)

// TransferStep is the step of an attended transfer.
type TransferStep string

// Attended transfer steps.
const (
	StepConsult  TransferStep = "consult"
	StepComplete TransferStep = "complete"
)

// PresenceStatus is a user's presence.
type PresenceStatus string

// Presence statuses.
const (
	PresenceAvailable PresenceStatus = "available"
	PresenceOnCall    PresenceStatus = "on_call"
	PresenceOffline   PresenceStatus = "offline"
)
