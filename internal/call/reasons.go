package call

import "errors"

// sipEndReasons is the one table from SIP final status to end reason.
var sipEndReasons = map[int]EndReason{
	486: EndBusy, 600: EndBusy,
	603: EndRejected,
	408: EndNoAnswer, 480: EndNoAnswer, 487: EndNoAnswer,
	404: EndFailed, 484: EndFailed,
}

// EndReasonForSIP maps a SIP failure status to the reason a call ends with.
func EndReasonForSIP(status int) EndReason {
	if r, ok := sipEndReasons[status]; ok {
		return r
	}
	return EndFailed // other 4xx, 5xx, 6xx and timeouts
}

// Error is a failure that crosses an edge: it knows its error code and,
// when it ends the call, the end reason.
type Error struct {
	Code   ErrorCode
	Reason EndReason
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// Sentinel failures.
var (
	ErrNotFound     = &Error{Code: CodeNotFound, Msg: "no such call"}
	ErrIllegalState = errors.New("request not allowed in the call's state")
)
