package park_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/cluster"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/leakcheck"
	"github.com/switchboard-voice/switchboard/internal/park"
	"github.com/switchboard-voice/switchboard/internal/presence"
	"github.com/switchboard-voice/switchboard/test/harness"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// shared is the lot's cluster table on a real node (as the server wires
// it: internal/server/park.go).
type shared struct{ n *cluster.Node }

func (s shared) Claim(account ident.AccountID, slot int, p park.Parked) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.n.ClaimPark(ctx, cluster.ParkClaim{Account: string(account), Slot: slot, Call: string(p.Call), From: p.From})
	if errors.Is(err, cluster.ErrParkTaken) {
		return park.ErrTaken
	}
	return err
}

func (s shared) Release(account ident.AccountID, slot int, call ident.CallID) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.n.ReleasePark(ctx, string(account), slot, string(call))
}

// sharedLot is a lot of slots 701–705 on a node of the cluster at url.
func sharedLot(t *testing.T, url, id string) *park.Lot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := cluster.Connect(ctx, cluster.Options{URL: url, NodeID: id, Heartbeat: 200 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = n.Close() })
	l := park.New(701, 705)
	l.SetShared(id, shared{n})
	require.NoError(t, n.WatchParks(func(e cluster.ParkEvent) {
		c := e.Claim
		l.Remote(c.Node, ident.AccountID(c.Account), c.Slot, park.Parked{Call: ident.CallID(c.Call), From: c.From}, e.Gone)
	}))
	return l
}

// states collects a watch's presence states.
type states struct {
	mu  sync.Mutex
	got []presence.Status
}

func (s *states) add(st presence.State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, st.Status)
}

func (s *states) last() presence.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.got) == 0 {
		return ""
	}
	return s.got[len(s.got)-1]
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	harness.CheckFor(t, 5*time.Second, func() error {
		if !ok() {
			return errors.New(what)
		}
		return nil
	})
}

// TestSharedLot: two nodes' lots share the account's slots: a call parked
// on n1 is busy and owned by n1 as n2 sees it (presence too), n2's next
// park takes the next slot, a pickup frees it everywhere, concurrent
// parks on both nodes never share a slot, and a node that leaves drops
// its slots.
func TestSharedLot(t *testing.T) {
	ns := harness.StartNATS(t)
	l1, l2 := sharedLot(t, ns.URL, "n1"), sharedLot(t, ns.URL, "n2")
	const a = ident.AccountID("acct_a")
	var seen2 states
	cur, cancel, err := l2.Watch(a, "park.701", seen2.add)
	require.NoError(t, err)
	defer cancel()
	require.Equal(t, presence.Available, cur.Status)

	s, err := l1.TryClaim(a, park.Parked{Call: "call_1", From: "102"}, nil)
	require.NoError(t, err)
	require.Equal(t, 701, s)
	waitFor(t, "n2 sees 701 busy", func() bool { return seen2.last() == presence.OnCall })
	require.Equal(t, "n1", l2.Owner(a, 701))
	require.Empty(t, l1.Owner(a, 701), "parked here")
	require.Equal(t, "102", l2.Busy(a)[701].From)

	s, err = l2.TryClaim(a, park.Parked{Call: "call_2"}, nil)
	require.NoError(t, err)
	require.Equal(t, 702, s, "701 is taken on n1")
	_, ok := l2.Take(a, 701)
	require.False(t, ok, "n2 does not hold 701's call: the pickup goes to n1")

	_, ok = l1.Take(a, 701)
	require.True(t, ok)
	waitFor(t, "n2 sees 701 idle", func() bool { return seen2.last() == presence.Available })
	require.Empty(t, l2.Owner(a, 701))
	require.True(t, l2.Release(a, 702, "call_2"))
	waitFor(t, "n1 sees 702 free", func() bool { return len(l1.Busy(a)) == 0 })

	// Five parks at once over two nodes: five slots, each once.
	var wg sync.WaitGroup
	slots := make(chan int, 5)
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := []*park.Lot{l1, l2}[i%2]
			s, err := l.TryClaim(a, park.Parked{Call: ident.CallID(fmt.Sprintf("call_c%d", i))}, nil)
			if err != nil {
				t.Error(err)
			}
			slots <- s
		}()
	}
	wg.Wait()
	close(slots)
	got := map[int]bool{}
	for s := range slots {
		require.False(t, got[s], "slot %d claimed twice", s)
		got[s] = true
	}
	require.Len(t, got, 5)
	waitFor(t, "each node sees every slot busy", func() bool { return len(l1.Busy(a)) == 5 && len(l2.Busy(a)) == 5 })
	_, err = l1.TryClaim(a, park.Parked{Call: "call_full"}, nil)
	require.ErrorIs(t, err, park.ErrFull)

	l2.DropNode("n1")
	for s, p := range l2.Busy(a) {
		require.Empty(t, l2.Owner(a, s), "slot %d (%s): n1 left", s, p.Call)
	}
}
