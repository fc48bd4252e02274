package sipua

import (
	"errors"
	"math"
	"strconv"

	"github.com/emiago/sipgo/sip"

	"github.com/switchboard-voice/switchboard/internal/call"
)

// accountCapRetry is the Retry-After sent when the account's call cap
// refused an INVITE: it frees as calls end, so a short wait is a guess.
const accountCapRetry = 5

// placeRefusal is the answer to an INVITE the call layer refused: 503
// either way (RFC 3261 §21.5.4, the server cannot take the call now; 486
// would tell the caller that the callee is busy), with the limit in the
// reason phrase and Retry-After (§20.33) for a limit.
func placeRefusal(err error) (int, string, []sip.Header) {
	var le *call.LimitError
	if !errors.As(err, &le) {
		return 503, "Service Unavailable", nil
	}
	secs := accountCapRetry
	reason := "Too Many Calls"
	switch le.Limit {
	case call.LimitAccount:
	case call.LimitNode: // a proxy (DNS SRV) tries the next node
		reason = "Node At Capacity"
	default:
		secs = max(1, int(math.Ceil(le.RetryAfter.Seconds())))
		reason = "Call Rate Exceeded"
	}
	return 503, reason, []sip.Header{sip.NewHeader("Retry-After", strconv.Itoa(secs))}
}
