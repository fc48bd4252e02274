package call

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

func TestLimitsNodeCeiling(t *testing.T) {
	l := newLimits(Limits{MaxCalls: 2, MaxPerAccount: 5})
	require.Nil(t, l.start("acct_a"))
	require.Nil(t, l.start("acct_b"))
	e := l.start("acct_c")
	require.NotNil(t, e)
	require.Equal(t, LimitNode, e.Limit)
	require.Equal(t, 2, e.Max)
	require.ErrorIs(t, e, ErrRateLimited)
	require.Empty(t, l.running["acct_c"], "a refused call is not counted")
	l.done("acct_a")
	require.Nil(t, l.start("acct_c"))
}

func TestNodeCeilingMessage(t *testing.T) {
	for _, tc := range []struct {
		peer, want string
	}{
		{"", "this node is at its ceiling of 4 calls: try again shortly or on another node"},
		{"n2", "this node is at its ceiling of 4 calls; node n2 has room: connect to it and call again"},
	} {
		require.Equal(t, tc.want, (&LimitError{Limit: LimitNode, Max: 4, Peer: tc.peer}).Error())
	}
}

// TestManagerNodeCeiling refuses calls past the node's ceiling, on
// call.create and on a SIP placement, naming the peer with room.
func TestManagerNodeCeiling(t *testing.T) {
	w := newWorld(t, func(o *Options) {
		o.Limits = Limits{MaxCalls: 1}
		o.PeerWithRoom = func() string { return "n2" }
	})
	w.device("sess_callee", "user_a")
	first, second := w.device("s1", "user_b"), w.device("s2", "user_d")
	first.send(Create{ReqID: "r", Destination: "101", SDP: "v=0"})
	second.send(Create{ReqID: "r", Destination: "101", SDP: "v=0"})
	got := second.snapshot()
	require.Len(t, got, 1)
	require.Equal(t, "error:rate_limited", got[0].what)
	require.Equal(t, &LimitError{Limit: LimitNode, Max: 1, Peer: "n2"}, got[0].info.(Refusal).Limit)

	_, _, err := w.m.Place(nil, Placement{Account: "acct_a", User: "user_c", Destination: "102"})
	var le *LimitError
	require.True(t, errors.As(err, &le))
	require.Equal(t, LimitNode, le.Limit)
	require.Equal(t, "n2", le.Peer)

	first.hangup(ident.CallID(first.snapshot()[0].call))
	require.Eventually(t, func() bool { return w.m.lim.count("acct_a") == 0 }, 5*time.Second, time.Millisecond)
	second.send(Create{ReqID: "r2", Destination: "101", SDP: "v=0"})
	require.Equal(t, "trying", second.snapshot()[1].what)
}
