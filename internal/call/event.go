package call

import (
	"fmt"
	"time"
)

// EndReason is why a call, or one party's part in it, ended. Its values
// are the protocol's (call.ended reason) and the call record's.
type EndReason string

// End reasons.
const (
	EndUnknown           EndReason = ""
	EndHangup            EndReason = "hangup"
	EndBusy              EndReason = "busy"
	EndNoAnswer          EndReason = "no-answer"
	EndFailed            EndReason = "failed"
	EndTransferred       EndReason = "transferred"
	EndRejected          EndReason = "rejected"
	EndAnsweredElsewhere EndReason = "answered-elsewhere"
	EndServerShutdown    EndReason = "server-shutdown"
	// EndMerged: the device's call was merged into its other call (a
	// conference); its other party goes on there.
	EndMerged EndReason = "merged"
)

func (r EndReason) String() string { return string(r) }

// HeldBy says which side holds, from a party's point of view.
type HeldBy string

// Hold sides.
const (
	HeldLocal  HeldBy = "local"  // this party put the call on hold
	HeldRemote HeldBy = "remote" // the other party did
)

// ErrorCode is why a request was refused. The edges map it: a protocol
// error code for devices, a SIP status for SIP parties.
type ErrorCode int

// Error codes.
const (
	CodeUnknown             ErrorCode = iota
	CodeInvalid                       // the request is malformed or not allowed in the call's state
	CodeFailed                        // the request was fine but could not be carried out
	CodeNotFound                      // no such call for this party
	CodeRateLimited                   // a limit refused it (Refusal.Limit says which)
	CodeAddressRequired               // calls out need a bound emergency address
	CodeParkFull                      // every park slot of the account is taken
	CodeRecordingNotAllowed           // the account's recording policy forbids it (recording.go)
	CodeConferenceFull                // a conference has conference.max_participants already
)

var codeNames = [...]string{"unknown", "invalid", "failed", "not-found", "rate-limited", "address-required", "park-full",
	"recording-not-allowed", "conference-full"}

func (c ErrorCode) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("code(%d)", int(c))
}

// Refusal answers a request the call did not accept.
type Refusal struct {
	Code  ErrorCode
	Msg   string
	ReqID string      // the request's id, when it had one
	Limit *LimitError // CodeRateLimited: which limit, and when to retry
}

// Restored describes a live call to a party whose session resumed.
type Restored struct {
	From, FromName, To string
	Inbound            bool  // the party was called (else it placed the call)
	State              State // StateRinging, StateActive or StateHeld
	HeldBy             HeldBy
	Muted              bool
	AnsweredAt         time.Time // zero when not answered
	// Recording is the call's recording, nil when it is not being
	// recorded (a stopped recording is none).
	Recording *RecordingInfo
}
