package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/cluster"
	"github.com/switchboard-voice/switchboard/internal/leakcheck"
	"github.com/switchboard-voice/switchboard/test/harness"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// heartbeat is short so that TTLs (3 heartbeats) pass quickly, and long
// enough that a live node's entries outlast a busy machine stalling
// nats-server or the test for a second (they lapse after 1.2 s without a
// refresh, and tests check that a live node's entries do not).
const heartbeat = 400 * time.Millisecond

func join(t *testing.T, url, id string, load func() cluster.Load) *cluster.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := cluster.Connect(ctx, cluster.Options{URL: url, NodeID: id, Heartbeat: heartbeat, Load: load})
	require.NoError(t, err)
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// ctxT bounds a whole test's calls (a hung call fails the test, not CI).
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func nodesOf(locs []cluster.Location) []string {
	var out []string
	for _, l := range locs {
		out = append(out, l.Node+"/"+string(l.Kind)+"/"+l.Device)
	}
	return out
}

func TestLocations(t *testing.T) {
	ns := harness.StartNATS(t)
	n1, n2 := join(t, ns.URL, "n1", nil), join(t, ns.URL, "n2", nil)
	ctx := ctxT(t)
	require.NoError(t, n1.Bind(ctx, cluster.Binding{UserID: "user_a", Kind: cluster.KindWebRTC, Device: "sess_1"}))
	require.NoError(t, n2.Bind(ctx, cluster.Binding{UserID: "user_a", Kind: cluster.KindSIP,
		Device: "sip:101@127.0.0.1:5062;transport=tcp", Flow: "tcp 127.0.0.1:40000"}))
	require.NoError(t, n2.Bind(ctx, cluster.Binding{UserID: "user_b", Kind: cluster.KindWebRTC, Device: "sess_2"}))
	require.ErrorIs(t, n1.Bind(ctx, cluster.Binding{UserID: "user_a"}), cluster.ErrBadBinding)

	locs, err := n1.Lookup(ctx, "user_a")
	require.NoError(t, err)
	require.Equal(t, []string{"n1/webrtc/sess_1", "n2/sip/sip:101@127.0.0.1:5062;transport=tcp"}, nodesOf(locs))
	require.Equal(t, "tcp 127.0.0.1:40000", locs[1].Flow)

	// A user whose id is a prefix of another's is not mixed up with it.
	locs, err = n1.Lookup(ctx, "user_")
	require.NoError(t, err)
	require.Empty(t, locs)

	// Bindings outlive many TTLs while refreshed.
	time.Sleep(2 * n1.TTL())
	locs, err = n2.Lookup(ctx, "user_a")
	require.NoError(t, err)
	require.Len(t, locs, 2)

	require.NoError(t, n1.Unbind(ctx, "user_a", cluster.KindWebRTC, "sess_1"))
	locs, err = n2.Lookup(ctx, "user_a")
	require.NoError(t, err)
	require.Equal(t, []string{"n2/sip/sip:101@127.0.0.1:5062;transport=tcp"}, nodesOf(locs))
}

func TestLocationExpires(t *testing.T) {
	ns := harness.StartNATS(t)
	n1 := join(t, ns.URL, "n1", nil)
	ctx := ctxT(t)
	require.NoError(t, n1.Bind(ctx, cluster.Binding{UserID: "u", Kind: cluster.KindSIP, Device: "sip:1@h",
		Expires: time.Now().Add(time.Second)})) // long enough to be seen first on a busy machine
	locs, err := n1.Lookup(ctx, "u")
	require.NoError(t, err)
	require.Len(t, locs, 1)
	harness.CheckFor(t, 5*time.Second, func() error {
		locs, err := n1.Lookup(ctx, "u")
		if err != nil || len(locs) != 0 {
			return fmt.Errorf("still %v (%v)", nodesOf(locs), err)
		}
		return nil
	})
}

func TestNodeDeath(t *testing.T) {
	ns := harness.StartNATS(t)
	n1 := join(t, ns.URL, "n1", func() cluster.Load { return cluster.Load{Calls: 3, MaxCalls: 10} })
	n2 := join(t, ns.URL, "n2", func() cluster.Load { return cluster.Load{Calls: 1, MaxCalls: 10, HTTP: "127.0.0.1:1"} })
	ctx := ctxT(t)
	require.NoError(t, n2.Bind(ctx, cluster.Binding{UserID: "u", Kind: cluster.KindWebRTC, Device: "s"}))
	peers, err := n1.Peers(ctx)
	require.NoError(t, err)
	require.Len(t, peers, 2)
	require.Equal(t, "127.0.0.1:1", peers[1].HTTP)
	best, err := n1.LeastLoaded(ctx)
	require.NoError(t, err)
	require.Equal(t, "n2", best.Node)
	live, err := n1.Live(ctx, "n2")
	require.NoError(t, err)
	require.True(t, live)
	live, err = n1.Live(ctx, "n3")
	require.NoError(t, err)
	require.False(t, live, "a node that never joined")

	n2.Crash()
	start := time.Now()
	harness.CheckFor(t, 5*time.Second, func() error {
		peers, err := n1.Peers(ctx)
		locs, err2 := n1.Lookup(ctx, "u")
		if err := errors.Join(err, err2); err != nil {
			return err
		}
		if len(peers) != 1 || len(locs) != 0 {
			return fmt.Errorf("%d peers, locations %v", len(peers), nodesOf(locs))
		}
		return nil
	})
	live, err = n1.Live(ctx, "n2")
	require.NoError(t, err)
	require.False(t, live, "a crashed node's stale entry")
	t.Logf("a crashed node and its locations vanished after %s (TTL %s)", time.Since(start).Round(time.Millisecond), n1.TTL())
	require.GreaterOrEqual(t, time.Since(start), n1.TTL()/2)
}

func TestCloseLeavesAtOnce(t *testing.T) {
	ns := harness.StartNATS(t)
	n1, n2 := join(t, ns.URL, "n1", nil), join(t, ns.URL, "n2", nil)
	ctx := ctxT(t)
	require.NoError(t, n2.Bind(ctx, cluster.Binding{UserID: "u", Kind: cluster.KindWebRTC, Device: "s"}))
	require.NoError(t, n2.Close())
	peers, err := n1.Peers(ctx)
	require.NoError(t, err)
	require.Len(t, peers, 1)
	locs, err := n1.Lookup(ctx, "u")
	require.NoError(t, err)
	require.Empty(t, locs)
	require.ErrorIs(t, n2.Bind(ctx, cluster.Binding{UserID: "u", Kind: cluster.KindWebRTC, Device: "s"}), cluster.ErrClosed)
}

func TestLeases(t *testing.T) {
	ns := harness.StartNATS(t)
	n1, n2, n3 := join(t, ns.URL, "n1", nil), join(t, ns.URL, "n2", nil), join(t, ns.URL, "n3", nil)
	ctx := ctxT(t)
	l1, err := n1.TryAcquireLease(ctx, "trunk:carrier-a")
	require.NoError(t, err)
	again, err := n1.TryAcquireLease(ctx, "trunk:carrier-a")
	require.NoError(t, err)
	require.Same(t, l1, again)
	_, err = n2.TryAcquireLease(ctx, "trunk:carrier-a")
	require.ErrorIs(t, err, cluster.ErrLeaseHeld)

	// Held across many TTLs while refreshed.
	time.Sleep(2 * n1.TTL())
	holder, err := n3.LeaseHolder(ctx, "trunk:carrier-a")
	require.NoError(t, err)
	require.Equal(t, "n1", holder)

	// n2 and n3 both wait; exactly one gets it once n1 dies.
	var wg sync.WaitGroup
	got := make(chan string, 2)
	wctx, cancel := context.WithCancel(context.Background())
	for _, n := range []*cluster.Node{n2, n3} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := n.AcquireLease(wctx, "trunk:carrier-a"); err == nil {
				got <- n.ID()
			}
		}()
	}
	n1.Crash()
	start := time.Now()
	var winner string
	select {
	case winner = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no node took the lease after the holder died")
	}
	t.Logf("lease taken over by %s after %s (TTL %s)", winner, time.Since(start).Round(time.Millisecond), n2.TTL())
	select {
	case other := <-got:
		t.Fatalf("%s took the lease too", other)
	case <-time.After(2 * n2.TTL()):
	}
	cancel()
	wg.Wait()
	holder, err = n2.LeaseHolder(ctx, "trunk:carrier-a")
	require.NoError(t, err)
	require.Equal(t, winner, holder)
}

func TestLeaseRelease(t *testing.T) {
	ns := harness.StartNATS(t)
	n1, n2 := join(t, ns.URL, "n1", nil), join(t, ns.URL, "n2", nil)
	ctx := ctxT(t)
	l, err := n1.TryAcquireLease(ctx, "x")
	require.NoError(t, err)
	require.NoError(t, l.Release(ctx))
	<-l.Lost()
	l2, err := n2.TryAcquireLease(ctx, "x")
	require.NoError(t, err)
	// n1 closing does not touch n2's lease; n2 closing releases it.
	require.NoError(t, n1.Close())
	holder, err := n2.LeaseHolder(ctx, "x")
	require.NoError(t, err)
	require.Equal(t, "n2", holder)
	require.NoError(t, n2.Close())
	<-l2.Lost()
	n3 := join(t, ns.URL, "n3", nil)
	holder, err = n3.LeaseHolder(ctx, "x")
	require.NoError(t, err)
	require.Empty(t, holder)
}

func TestRequestReply(t *testing.T) {
	ns := harness.StartNATS(t)
	n1 := join(t, ns.URL, "n1", nil)
	n2 := join(t, ns.URL, "n2", func() cluster.Load { return cluster.Load{Calls: 7, Draining: true} })
	ctx := ctxT(t)
	st, err := n1.Status(ctx, "n2")
	require.NoError(t, err)
	require.Equal(t, "n2", st.Node)
	require.Equal(t, 7, st.Calls)
	require.True(t, st.Draining)

	var e *cluster.Error
	_, err = n1.Status(ctx, "nobody")
	require.ErrorAs(t, err, &e)
	require.Equal(t, cluster.CodeUnavailable, e.Code)

	type echo struct {
		Text string `json:"text"`
	}
	require.NoError(t, n2.Handle(cluster.CallSubject("call_1", "echo"), func(_ context.Context, req json.RawMessage) (any, error) {
		var in echo
		if err := json.Unmarshal(req, &in); err != nil {
			return nil, cluster.Errorf(cluster.CodeBadRequest, "%v", err)
		}
		switch in.Text {
		case "missing":
			return nil, cluster.Errorf(cluster.CodeNotFound, "no such thing")
		case "boom":
			return nil, errors.New("boom")
		}
		return echo{Text: in.Text + "!"}, nil
	}))
	subj := cluster.CallSubject("call_1", "echo")
	out, err := cluster.Request[echo](ctx, n1, subj, echo{Text: "hi"})
	require.NoError(t, err)
	require.Equal(t, "hi!", out.Text)
	for text, code := range map[string]string{"missing": cluster.CodeNotFound, "boom": cluster.CodeInternal} {
		_, err = cluster.Request[echo](ctx, n1, subj, echo{Text: text})
		require.ErrorAs(t, err, &e)
		require.Equal(t, code, e.Code, text)
	}
	_, err = cluster.Request[echo](ctx, n1, subj, "not an object")
	require.ErrorAs(t, err, &e)
	require.Equal(t, cluster.CodeBadRequest, e.Code)
}

func TestPresenceBus(t *testing.T) {
	ns := harness.StartNATS(t)
	n1, n2 := join(t, ns.URL, "n1", nil), join(t, ns.URL, "n2", nil)
	got := make(chan cluster.PresenceMessage, 4)
	hellos := make(chan string, 4)
	require.NoError(t, n1.SubscribePresence(func(m cluster.PresenceMessage) { got <- m }, func(n string) { hellos <- n }))
	require.NoError(t, n2.SubscribePresence(func(cluster.PresenceMessage) {}, func(string) {}))
	select {
	case h := <-hellos:
		require.Equal(t, "n2", h) // n1 hears n2 arrive; nobody hears themselves
	case <-time.After(5 * time.Second):
		t.Fatal("no hello")
	}
	require.NoError(t, n2.PublishPresence("acct_1", "user_a", map[string]int{"devices": 1}))
	require.NoError(t, n1.PublishPresence("acct_1", "user_a", map[string]int{"devices": 2})) // own: not delivered
	select {
	case m := <-got:
		require.Equal(t, "n2", m.Node)
		require.Equal(t, "acct_1", m.Account)
		require.Equal(t, "user_a", m.User)
		require.JSONEq(t, `{"devices":1}`, string(m.Data))
	case <-time.After(5 * time.Second):
		t.Fatal("no presence message")
	}
	select {
	case m := <-got:
		t.Fatalf("unexpected %+v", m)
	case <-time.After(200 * time.Millisecond):
	}
}
