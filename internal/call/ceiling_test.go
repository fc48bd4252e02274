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
	require.Nil(t, l.start("acct_a", false))
	require.Nil(t, l.start("acct_b", false))
	e := l.start("acct_c", false)
	require.NotNil(t, e)
	require.Equal(t, LimitNode, e.Limit)
	require.Equal(t, 2, e.Max)
	require.ErrorIs(t, e, ErrRateLimited)
	require.Empty(t, l.running["acct_c"], "a refused call is not counted")
	require.Nil(t, l.start("acct_c", true), "a pickup takes a parked call's place: never refused")
	require.Equal(t, 3, l.total, "but counted")
	l.done("acct_c")
	l.done("acct_a")
	require.Nil(t, l.start("acct_c", false))
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

// TestLimitsCPUCeiling counts a node at or over its CPU ceiling as full.
func TestLimitsCPUCeiling(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lim    Limits
		cpu    float64
		refuse bool
	}{
		{"under", Limits{MaxCPU: 0.8}, 0.79, false},
		{"at", Limits{MaxCPU: 0.8}, 0.8, true},
		{"over", Limits{MaxCPU: 0.8}, 0.95, true},
		{"no ceiling", Limits{}, 1, false},
		{"calls first", Limits{MaxCPU: 0.8, MaxCalls: 1}, 0.9, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cpu := 0.0
			tc.lim.CPU = func() float64 { return cpu }
			l := newLimits(tc.lim)
			if tc.lim.MaxCalls > 0 {
				require.Nil(t, l.start("acct_a", false))
			}
			cpu = tc.cpu
			require.Equal(t, tc.refuse, l.full())
			e := l.start("acct_b", false)
			if !tc.refuse {
				require.Nil(t, e)
				return
			}
			require.NotNil(t, e)
			require.Equal(t, LimitNode, e.Limit)
			if tc.lim.MaxCalls > 0 {
				require.Equal(t, 1, e.Max, "the call ceiling is named first")
				return
			}
			require.Equal(t, tc.lim.MaxCPU, e.MaxCPU)
			require.Equal(t, "this node is at its CPU ceiling (80% of all cores): try again shortly or on another node", e.Error())
		})
	}
}

// TestManagerOverflow hands a call.create past the node's ceiling to
// Options.Overflow, with the candidates trickled under its req_id; one it
// does not take, or gives back (here), is refused as before.
func TestManagerOverflow(t *testing.T) {
	type offer struct {
		dev   Device
		cr    Create
		early []Candidate
		here  func()
	}
	var offers []offer
	take := true
	w := newWorld(t, func(o *Options) {
		o.Limits = Limits{MaxCalls: 1}
		o.Overflow = func(dev Device, cr Create, early []Candidate, here func()) bool {
			offers = append(offers, offer{dev, cr, early, here})
			return take
		}
	})
	w.device("sess_callee", "user_a")
	first, second := w.device("s1", "user_b"), w.device("s2", "user_d")
	first.dial("101")
	require.Empty(t, offers, "a node with room places the call itself")

	second.candidate("req_x", "candidate:1 1 udp 1 127.0.0.1 5000 typ host")
	second.send(Create{ReqID: "req_x", Destination: "101", SDP: "v=0"})
	require.Len(t, offers, 1)
	require.Equal(t, "req_x", offers[0].cr.ReqID)
	require.Equal(t, ident.SessionID("s2"), offers[0].dev.SessionID())
	require.Equal(t, []Candidate{{Candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host"}}, offers[0].early)
	require.Empty(t, second.snapshot(), "a call taken elsewhere is not refused here")

	offers[0].here() // the other node would not take it
	got := second.snapshot()
	require.Len(t, got, 1)
	require.Equal(t, "error:rate_limited", got[0].what)
	requireLimit(t, got[0], LimitNode)

	take = false
	second.send(Create{ReqID: "req_y", Destination: "101", SDP: "v=0"})
	require.Len(t, offers, 2)
	require.Len(t, second.snapshot(), 2)
	require.Equal(t, "error:rate_limited", second.snapshot()[1].what)
}
