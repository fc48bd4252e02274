package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/cluster"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// parkWatch collects one node's view of the slots from WatchParks.
type parkWatch struct {
	mu    sync.Mutex
	slots map[string]cluster.ParkClaim // by "account/slot"
	log   []string                     // "gone call_1", "put call_1"
}

func watchParks(t *testing.T, n *cluster.Node) *parkWatch {
	t.Helper()
	w := &parkWatch{slots: map[string]cluster.ParkClaim{}}
	require.NoError(t, n.WatchParks(func(e cluster.ParkEvent) {
		w.mu.Lock()
		defer w.mu.Unlock()
		k := fmt.Sprintf("%s/%d", e.Claim.Account, e.Claim.Slot)
		if e.Gone {
			delete(w.slots, k)
			w.log = append(w.log, "gone "+e.Claim.Call)
		} else {
			w.slots[k] = e.Claim
			w.log = append(w.log, "put "+e.Claim.Call)
		}
	}))
	return w
}

// holder waits until the watch shows the slot held by call ("" empty).
func (w *parkWatch) holder(t *testing.T, key, call string) {
	t.Helper()
	harness.CheckFor(t, 5*time.Second, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if got := w.slots[key].Call; got != call {
			return fmt.Errorf("slot %s held by %q, want %q", key, got, call)
		}
		return nil
	})
}

func claim(account string, slot int, call string) cluster.ParkClaim {
	return cluster.ParkClaim{Account: account, Slot: slot, Call: call, From: "102", By: "user_a"}
}

// TestParkClaims: a slot is claimed once cluster-wide (per account); a
// claim outlives its TTL while refreshed, is seen by every node's watch,
// and leaves on release, on Close at once, and with a crashed node after
// the TTL.
func TestParkClaims(t *testing.T) {
	ns := harness.StartNATS(t)
	n1, n2 := join(t, ns.URL, "n1", nil), join(t, ns.URL, "n2", nil)
	w2 := watchParks(t, n2)
	ctx := ctxT(t)

	require.NoError(t, n1.ClaimPark(ctx, claim("acct a", 701, "call_1")))
	require.ErrorIs(t, n2.ClaimPark(ctx, claim("acct a", 701, "call_2")), cluster.ErrParkTaken)
	require.ErrorIs(t, n1.ClaimPark(ctx, claim("acct a", 701, "call_3")), cluster.ErrParkTaken, "held here too")
	require.NoError(t, n2.ClaimPark(ctx, claim("acct b", 701, "call_4")), "another account's slot")
	w2.holder(t, "acct a/701", "call_1")
	w2.holder(t, "acct b/701", "call_4")
	w2.mu.Lock()
	require.Equal(t, "n1", w2.slots["acct a/701"].Node)
	require.Equal(t, "102", w2.slots["acct a/701"].From)
	w2.mu.Unlock()

	// Refreshed, the claim outlives its TTL.
	require.Never(t, func() bool {
		claims, err := n2.ParkClaims(ctx)
		return err != nil || len(claims) != 2
	}, 2*n1.TTL(), n1.TTL()/4)

	require.NoError(t, n1.ReleasePark(ctx, "acct a", 701, "call_other"), "not its call: kept")
	w2.holder(t, "acct a/701", "call_1")
	require.NoError(t, n1.ReleasePark(ctx, "acct a", 701, "call_1"))
	w2.holder(t, "acct a/701", "")
	require.NoError(t, n2.ClaimPark(ctx, claim("acct a", 701, "call_2")), "free again")

	// A node that closes takes its claims with it at once.
	n3 := join(t, ns.URL, "n3", nil)
	require.NoError(t, n3.ClaimPark(ctx, claim("acct a", 702, "call_5")))
	w2.holder(t, "acct a/702", "call_5")
	require.NoError(t, n3.Close())
	w2.holder(t, "acct a/702", "")

	// A crashed node's claim expires with the TTL.
	require.NoError(t, n1.ClaimPark(ctx, claim("acct a", 703, "call_6")))
	n1.Crash()
	start := time.Now()
	harness.CheckFor(t, 5*time.Second, func() error {
		return n2.ClaimPark(ctx, claim("acct a", 703, "call_7"))
	})
	t.Logf("a crashed node's slot was free again after %s (TTL %s)", time.Since(start).Round(time.Millisecond), n2.TTL())
}

// TestParkClaimRestart: a node restarted within the TTL (same id) clears
// the claims its earlier run left (its parked calls ended with it), and
// the other nodes see them go.
func TestParkClaimRestart(t *testing.T) {
	ns := harness.StartNATS(t)
	old := join(t, ns.URL, "n1", nil)
	w2 := watchParks(t, join(t, ns.URL, "n2", nil))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, old.ClaimPark(ctx, claim("a", 701, "call_1")))
	require.NoError(t, old.ClaimPark(ctx, claim("a", 702, "call_0")))
	w2.holder(t, "a/701", "call_1")
	old.Crash()
	n1 := join(t, ns.URL, "n1", nil)
	w2.holder(t, "a/701", "")
	w2.holder(t, "a/702", "")
	require.NoError(t, n1.ClaimPark(ctx, claim("a", 701, "call_2")))
	claims, err := n1.ParkClaims(ctx)
	require.NoError(t, err)
	require.Len(t, claims, 1)
	require.Equal(t, "call_2", claims[0].Call)
}

// parkedOnN1 starts n1 and n2, watches the slots from n2, and parks
// call_1 in a/701 on n1.
func parkedOnN1(t *testing.T) (*harness.NATS, *cluster.Node, *parkWatch, context.Context) {
	t.Helper()
	ns := harness.StartNATS(t)
	n1 := join(t, ns.URL, "n1", nil)
	w2 := watchParks(t, join(t, ns.URL, "n2", nil))
	ctx := ctxT(t)
	require.NoError(t, n1.ClaimPark(ctx, claim("a", 701, "call_1")))
	w2.holder(t, "a/701", "call_1")
	return ns, n1, w2, ctx
}

// TestParkClaimReclaimed: a claim whose entry vanished while its call is
// still parked (it expired while the node could not reach NATS) is made
// again at the next heartbeat.
func TestParkClaimReclaimed(t *testing.T) {
	_, n1, w2, ctx := parkedOnN1(t)
	require.NoError(t, n1.ExpireParkClaim(ctx, "a", 701))
	harness.CheckFor(t, 5*time.Second, func() error {
		w2.mu.Lock()
		defer w2.mu.Unlock()
		gone := slices.Index(w2.log, "gone call_1")
		if gone < 0 || !slices.Contains(w2.log[gone:], "put call_1") {
			return fmt.Errorf("events %v", w2.log)
		}
		return nil
	})
	require.NoError(t, n1.ReleasePark(ctx, "a", 701, "call_1"))
	w2.holder(t, "a/701", "")
}

// TestParkReleaseRetried: a release whose delete fails (NATS away) is
// tried again at the next heartbeat, so the slot does not stay busy on
// other nodes.
func TestParkReleaseRetried(t *testing.T) {
	ns, n1, w2, ctx := parkedOnN1(t)
	failed, cancel := context.WithCancel(ctx)
	cancel()
	require.Error(t, n1.ReleasePark(failed, "a", 701, "call_1"))
	w2.holder(t, "a/701", "")
	n3 := join(t, ns.URL, "n3", nil)
	require.NoError(t, n3.ClaimPark(ctx, claim("a", 701, "call_2")), "the slot is free for another node")
}

// TestParkClaimLost: a claim whose slot another node took while its entry
// was gone (expired while its holder could not reach NATS) is reported
// lost to its holder, which stops refreshing it.
func TestParkClaimLost(t *testing.T) {
	ns := harness.StartNATS(t)
	n1, n2 := join(t, ns.URL, "n1", nil), join(t, ns.URL, "n2", nil)
	lost := make(chan cluster.ParkClaim, 1)
	n1.OnParkLost(func(c cluster.ParkClaim) { lost <- c })
	ctx := ctxT(t)
	require.NoError(t, n1.ClaimPark(ctx, claim("a", 701, "call_1")))
	// n1's heartbeat may claim the slot again between the two steps: the
	// expiry is repeated until n2 gets in first.
	harness.CheckFor(t, 5*time.Second, func() error {
		if err := n1.ExpireParkClaim(ctx, "a", 701); err != nil {
			return err
		}
		return n2.ClaimPark(ctx, claim("a", 701, "call_2"))
	})
	select {
	case c := <-lost:
		require.Equal(t, "call_1", c.Call)
		require.Equal(t, 701, c.Slot)
	case <-time.After(5 * time.Second):
		t.Fatal("n1 was not told it lost the slot")
	}
	w := watchParks(t, n1)
	w.holder(t, "a/701", "call_2")
	require.Never(t, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.slots["a/701"].Call != "call_2"
	}, 2*n1.TTL(), n1.TTL()/4, "n1 no longer refreshes its claim over n2's")
}
