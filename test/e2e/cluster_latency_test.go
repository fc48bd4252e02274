package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// TestClusterCallSetupLatency measures what the cluster hop costs: calls
// from Alice on node 1 to Carol on node 1 (same node) and to Bob on node
// 2 (the callee's signalling relayed over NATS, its media to node 1).
// It logs the median time from call.create to call.incoming at the callee
// and to call.answered at the caller (the callee answers at once).
func TestClusterCallSetupLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("a measurement")
	}
	nodes := startCluster(t, 2)
	n1, n2 := nodes[0], nodes[1]
	// One caller socket per series, within a socket's call.create burst.
	var alice [2]*softphone.Phone
	for i := range alice {
		var err error
		alice[i], err = processPhone(t, n1, "101", 440)
		require.NoError(t, err)
	}
	carol, err := processPhone(t, n1, "103", 700)
	require.NoError(t, err)
	bob, err := processPhone(t, n2, "102", 1000)
	require.NoError(t, err)
	waitLocated(t, n1, userID(t, n1, "102"), "n2")

	// Interleaved, so that both series see the same load.
	const rounds = 6
	var times [2][2][]time.Duration // [same, cross][incoming, answered]
	one := func(k int, callee *softphone.Phone, ext string) {
		start := time.Now()
		out := dial(t, alice[k], ext)
		in := harness.NextIncoming(t, callee)
		times[k][0] = append(times[k][0], time.Since(start))
		answer(t, in)
		harness.Wait(t, out, protocol.TypeCallAnswered)
		times[k][1] = append(times[k][1], time.Since(start))
		require.NoError(t, out.Hangup())
		harness.WaitEnded(t, in, protocol.EndHangup)
		harness.WaitEnded(t, out, protocol.EndHangup)
	}
	for range rounds {
		one(0, carol, "103")
		one(1, bob, "102")
	}
	median := func(d []time.Duration) time.Duration {
		slices.Sort(d)
		return d[len(d)/2].Round(time.Millisecond)
	}
	sameRing, sameAns := median(times[0][0]), median(times[0][1])
	crossRing, crossAns := median(times[1][0]), median(times[1][1])
	t.Logf("median of %d calls, create → incoming at the callee / → answered at the caller: same node %s / %s; callee on another node %s / %s",
		rounds, sameRing, sameAns, crossRing, crossAns)
}
