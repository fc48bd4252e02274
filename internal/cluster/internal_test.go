package cluster

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKeyToken(t *testing.T) {
	for in, want := range map[string]string{
		"user_ab1":          "user_5Fab1",
		"sip:101@127.0.0.1": "sip_3A101_40127_2E0_2E0_2E1",
		"":                  "_",
		"a.b>*":             "a_2Eb_3E_2A",
		"n-1":               "n-1",
	} {
		require.Equal(t, want, keyToken(in), in)
	}
	require.Len(t, hashToken("sip:101@127.0.0.1:5062;transport=tcp"), 22)
	require.NotEqual(t, hashToken("a"), hashToken("b"))
}

func TestLeastLoaded(t *testing.T) {
	n := func(id string, calls, maxCalls int, cpu float64, draining bool) NodeInfo {
		return NodeInfo{Node: id, Load: Load{Calls: calls, MaxCalls: maxCalls, Draining: draining}, CPU: cpu}
	}
	cpu := func(p NodeInfo, maxCPU float64) NodeInfo { p.MaxCPU = maxCPU; return p }
	for _, tc := range []struct {
		name  string
		peers []NodeInfo
		want  string
	}{
		{"none", nil, ""},
		{"share of ceiling", []NodeInfo{n("a", 10, 100, 0, false), n("b", 5, 10, 0, false)}, "a"},
		{"draining skipped", []NodeInfo{n("a", 0, 0, 0, true), n("b", 9, 0, 0, false)}, "b"},
		{"full skipped", []NodeInfo{n("a", 10, 10, 0, false), n("b", 90, 100, 0, false)}, "b"},
		{"cpu breaks ties", []NodeInfo{n("a", 1, 10, 0.5, false), n("b", 1, 10, 0.1, false)}, "b"},
		{"first id on full tie", []NodeInfo{n("a", 1, 10, 0, false), n("b", 1, 10, 0, false)}, "a"},
		{"all draining", []NodeInfo{n("a", 0, 0, 0, true)}, ""},
		{"cpu full skipped", []NodeInfo{cpu(n("a", 0, 10, 0.9, false), 0.8), n("b", 5, 10, 0.2, false)}, "b"},
		{"cpu under its ceiling", []NodeInfo{cpu(n("a", 0, 10, 0.7, false), 0.8), n("b", 5, 10, 0.2, false)}, "a"},
		{"cpu ceiling reached", []NodeInfo{cpu(n("a", 0, 0, 0.5, false), 0.5)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := leastLoaded(tc.peers)
			if tc.want == "" {
				require.ErrorIs(t, err, ErrNoPeer)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got.Node)
		})
	}
}

func TestNodeIDPattern(t *testing.T) {
	require.True(t, nodeIDPattern("sb-1_a"))
	for _, bad := range []string{"", "a.b", "a b", "a>", string(make([]byte, 65))} {
		require.False(t, nodeIDPattern(bad), bad)
	}
}
