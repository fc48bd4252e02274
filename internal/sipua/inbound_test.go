package sipua

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/call"
)

// TestCallerOutcome checks the final response the answering side gives
// its INVITE for each order of what the call tells it.
func TestCallerOutcome(t *testing.T) {
	refused := func(p *caller) { p.Refused(call.Refusal{Code: call.CodeInvalid, Msg: "sdp"}) }
	failed := func(p *caller) { p.Refused(call.Refusal{Code: call.CodeFailed, Msg: "no route"}) }
	forbidden := func(p *caller) { p.Forbidden() }
	answered := func(p *caller) { p.Answered(time.Time{}) }
	ended := func(r call.EndReason) func(*caller) {
		return func(p *caller) { p.Ended(r, nil) }
	}
	for _, tc := range []struct {
		name   string
		events []func(*caller)
		status int
		state  dialogState
	}{
		{"busy", []func(*caller){ended(call.EndBusy)}, 486, dialogEnded},
		{"caller hangs up", []func(*caller){ended(call.EndHangup)}, 487, dialogEnded},
		{"unknown reason", []func(*caller){ended("odd")}, 500, dialogEnded},
		{"routing failure", []func(*caller){failed, ended(call.EndFailed)}, 404, dialogEnded},
		{"unusable offer", []func(*caller){refused, ended(call.EndFailed)}, 488, dialogEnded},
		{"dial plan", []func(*caller){failed, forbidden, ended(call.EndFailed)}, 403, dialogEnded},
		{"488 outranks 403", []func(*caller){refused, forbidden, ended(call.EndFailed)}, 488, dialogEnded},
		{"488 outranks 403, either order", []func(*caller){forbidden, refused, ended(call.EndFailed)}, 488, dialogEnded},
		{"a refusal that did not end the call", []func(*caller){refused, answered}, 200, dialogAnswered},
		{"ended twice answers once", []func(*caller){ended(call.EndHangup), ended(call.EndBusy)}, 487, dialogEnded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &caller{outcome: make(chan int, 1)}
			for _, ev := range tc.events {
				ev(p)
			}
			require.Equal(t, tc.status, <-p.outcome)
			require.Empty(t, p.outcome)
			require.Equal(t, tc.state, p.state)
		})
	}
}
