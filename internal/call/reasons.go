package call

import (
	"errors"

	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// sipEndReasons is the one table from SIP final status to end reason.
var sipEndReasons = map[int]protocol.EndReason{
	486: protocol.EndBusy, 600: protocol.EndBusy,
	603: protocol.EndRejected,
	408: protocol.EndNoAnswer, 480: protocol.EndNoAnswer, 487: protocol.EndNoAnswer,
	404: protocol.EndFailed, 484: protocol.EndFailed,
}

// EndReasonForSIP maps a SIP failure status to the reason a call ends with.
func EndReasonForSIP(status int) protocol.EndReason {
	if r, ok := sipEndReasons[status]; ok {
		return r
	}
	return protocol.EndFailed // other 4xx, 5xx, 6xx and timeouts
}

// Error is a failure that crosses an edge: it knows its protocol error
// code and, when it ends the call, the end reason.
type Error struct {
	Code   protocol.ErrorCode
	Reason protocol.EndReason
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// Sentinel failures.
var (
	ErrNotFound     = &Error{Code: protocol.CodeCallNotFound, Msg: "no such call"}
	ErrIllegalState = errors.New("request not allowed in the call's state")
)
