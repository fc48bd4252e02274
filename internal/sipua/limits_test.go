package sipua

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/call"
)

func TestPlaceRefusal(t *testing.T) {
	for _, tc := range []struct {
		err    error
		reason string
		retry  string
	}{
		{&call.LimitError{Limit: call.LimitUser, RetryAfter: 1500 * time.Millisecond}, "Call Rate Exceeded", "2"},
		{&call.LimitError{Limit: call.LimitUser, RetryAfter: time.Millisecond}, "Call Rate Exceeded", "1"},
		{&call.LimitError{Limit: call.LimitAccount, Max: 10}, "Too Many Calls", "5"},
		{&call.LimitError{Limit: call.LimitNode, Max: 10, Peer: "n2"}, "Node At Capacity", "5"},
		{errors.New("server is shutting down"), "Service Unavailable", ""},
	} {
		status, reason, hdrs := placeRefusal(tc.err)
		require.Equal(t, 503, status)
		require.Equal(t, tc.reason, reason)
		if tc.retry == "" {
			require.Empty(t, hdrs)
			continue
		}
		require.Len(t, hdrs, 1)
		require.Equal(t, "Retry-After", hdrs[0].Name())
		require.Equal(t, tc.retry, hdrs[0].Value())
	}
}
