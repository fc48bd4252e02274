package callwire

import (
	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// EndReason is the wire form of a call's end reason (the same words).
func EndReason(r call.EndReason) protocol.EndReason { return protocol.EndReason(r) }

func heldBy(h call.HeldBy) protocol.HeldBy { return protocol.HeldBy(h) }

// callStates maps the states a restored call reports.
var callStates = map[call.State]protocol.CallState{
	call.StateRinging: protocol.StateRinging,
	call.StateActive:  protocol.StateActive,
	call.StateHeld:    protocol.StateHeld,
}

// errorCodes maps the call core's refusals to protocol error codes.
var errorCodes = map[call.ErrorCode]protocol.ErrorCode{
	call.CodeInvalid:         protocol.CodeInvalidMessage,
	call.CodeFailed:          protocol.CodeCallFailed,
	call.CodeNotFound:        protocol.CodeCallNotFound,
	call.CodeRateLimited:     protocol.CodeRateLimited,
	call.CodeAddressRequired: protocol.CodeEmergencyAddressRequired,
	call.CodeParkFull:        protocol.CodeParkFull,
	// recording.go
	call.CodeRecordingNotAllowed: protocol.CodeRecordingNotAllowed,
	call.CodeConferenceFull:      protocol.CodeConferenceFull,
}

// ErrorCode is the protocol code of a refusal (internal_error for one
// the table lacks).
func ErrorCode(c call.ErrorCode) protocol.ErrorCode {
	if p, ok := errorCodes[c]; ok {
		return p
	}
	return protocol.CodeInternalError
}

// ErrorFrame is the error a device is sent for a refusal about call id
// (empty: a request that created no call). A rate_limited error's
// context.limit names the limit; context.retry_after_ms, when present,
// is when the same request can succeed.
func ErrorFrame(r call.Refusal, id ident.CallID) *protocol.Error {
	e := &protocol.Error{Code: ErrorCode(r.Code), ReqID: r.ReqID, CallID: string(id), Message: r.Msg}
	if l := r.Limit; l != nil {
		ctx := map[string]any{"limit": l.Limit}
		if l.RetryAfter > 0 {
			ctx["retry_after_ms"] = l.RetryAfter.Milliseconds() + 1
		}
		if l.Max > 0 {
			ctx["max"] = l.Max
		}
		if l.Peer != "" {
			ctx["peer"] = l.Peer
		}
		e.Context = ctx
	}
	return e
}
