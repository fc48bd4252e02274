package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
	"github.com/switchboard-voice/switchboard/test/rest"
)

// clusterHeartbeat is short so that a dead node's entries (3 heartbeats)
// vanish quickly.
const clusterHeartbeat = 300 * time.Millisecond

type clusterLocation struct {
	Node   string `json:"node"`
	UserID string `json:"user_id"`
	Kind   string `json:"kind"`
	Device string `json:"device"`
	Flow   string `json:"flow"`
}

type clusterNode struct {
	Node      string `json:"node"`
	Self      bool   `json:"self"`
	Reachable bool   `json:"reachable"`
	Calls     int    `json:"calls"`
	Draining  bool   `json:"draining"`
	HTTP      string `json:"http"`
	SIP       string `json:"sip"`
}

// seedDataDir makes a data directory with the demo users (and their
// master key file beside it) and returns copies of it, one per node:
// SQLite is per node, so the copies stand in for the shared Postgres a
// real cluster has (same user ids, same token signing key).
func seedDataDir(t *testing.T, bin string, copies int) []string {
	t.Helper()
	seed := filepath.Join(t.TempDir(), "data")
	p := harness.StartProcessIn(t, bin, seed, "")
	p.Token(t, "103") // the demo users exist
	p.Signal(t)
	require.NoError(t, p.WaitExit(t, 20*time.Second))
	out := make([]string, copies)
	for i := range out {
		out[i] = filepath.Join(t.TempDir(), "data")
		require.NoError(t, os.CopyFS(out[i], os.DirFS(seed)))
		key, err := os.ReadFile(seed + ".master.key")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(out[i]+".master.key", key, 0o600))
	}
	return out
}

func userID(t *testing.T, p *harness.Process, ext string) string {
	t.Helper()
	var users struct {
		Data []struct {
			ID        string `json:"id"`
			Extension string `json:"extension"`
		} `json:"data"`
	}
	p.Get(t, "/v1/users", &users)
	for _, u := range users.Data {
		if u.Extension == ext {
			return u.ID
		}
	}
	t.Fatalf("no user %s", ext)
	return ""
}

func locationsOn(t *testing.T, p *harness.Process, user string) []clusterLocation {
	t.Helper()
	var res struct {
		Data []clusterLocation `json:"data"`
	}
	p.Get(t, "/v1/cluster/locations/"+user, &res)
	return res.Data
}

func nodesOn(t *testing.T, p *harness.Process) []clusterNode {
	t.Helper()
	var res struct {
		Data []clusterNode `json:"data"`
	}
	p.Get(t, "/v1/cluster/nodes", &res)
	return res.Data
}

// presenceOf waits on ph's notifications for user's presence to satisfy ok.
func presenceOf(t *testing.T, ph *softphone.Phone, user string, ok func(protocol.PresenceEntry) bool) protocol.PresenceEntry {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-ph.Notifications():
			if u, is := m.(*protocol.PresenceUpdate); is && u.UserID == user && ok(u.PresenceEntry) {
				return u.PresenceEntry
			}
		case <-timeout:
			t.Fatalf("no matching presence.update for %s", user)
		}
	}
}

// presenceEvent is a presence.changed event's user and status.
type presenceEvent struct{ user, status string }

// nextPresence reads st's presence.changed events until one for user with
// status, and returns those before it.
func nextPresence(t *testing.T, st *rest.SSE, user, status string) []presenceEvent {
	t.Helper()
	var before []presenceEvent
	for {
		got := readPresence(t, st)
		if got == (presenceEvent{user, status}) {
			return before
		}
		before = append(before, got)
	}
}

// readPresence reads st's next presence.changed event.
func readPresence(t *testing.T, st *rest.SSE) presenceEvent {
	t.Helper()
	ev := st.Next(t, 20*time.Second)
	var env struct {
		Data struct {
			UserID string `json:"user_id"`
			Status string `json:"status"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(ev.Data), &env), ev.Data)
	return presenceEvent{env.Data.UserID, env.Data.Status}
}

// TestCluster: two switchboard processes share one nats-server. A softphone
// on node 2 is located from node 1; node 1 lists both nodes; presence set
// or changed on node 1 reaches a watcher on node 2; node 2 killed -9
// vanishes from node 1's view, with its locations, after the TTL.
func TestCluster(t *testing.T) {
	ns := harness.StartNATS(t)
	bin := harness.BuildBinary(t)
	dirs := seedDataDir(t, bin, 2)
	conf := func(id string) string {
		return fmt.Sprintf("cluster:\n  nats_url: %s\n  node_id: %s\n  heartbeat: %s\n", ns.URL, id, clusterHeartbeat)
	}
	n1 := harness.StartProcessIn(t, bin, dirs[0], conf("n1"))
	n2 := harness.StartProcessIn(t, bin, dirs[1], conf("n2"))
	alice, bob, carol := userID(t, n1, "101"), userID(t, n1, "102"), userID(t, n1, "103")
	require.Equal(t, alice, userID(t, n2, "101"), "the nodes' stores are copies")

	harness.CheckFor(t, 5*time.Second, func() error {
		if nodes := nodesOn(t, n1); len(nodes) != 2 || !nodes[0].Self || !nodes[1].Reachable {
			return fmt.Errorf("nodes %+v", nodes)
		}
		return nil
	})
	nodes := nodesOn(t, n1)
	require.Equal(t, "n1", nodes[0].Node)
	require.Equal(t, "n2", nodes[1].Node)
	require.Equal(t, n2.Addr, nodes[1].HTTP)

	// Alice's softphone on node 2 is found from node 1.
	start := time.Now()
	ph, err := processPhone(t, n2, "101", 440)
	require.NoError(t, err)
	harness.CheckFor(t, 5*time.Second, func() error {
		locs := locationsOn(t, n1, alice)
		if len(locs) != 1 || locs[0].Node != "n2" || locs[0].Kind != "webrtc" || locs[0].Device != ph.SessionID() {
			return fmt.Errorf("locations %+v", locs)
		}
		return nil
	})
	appeared := time.Since(start)
	require.Empty(t, locationsOn(t, n1, bob))

	// Alice on node 2 watches Bob and Carol, who are on node 1.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	reply, err := ph.Request(ctx, &protocol.PresenceSubscribe{Users: []string{bob, carol}})
	require.NoError(t, err)
	list := reply.(*protocol.PresenceList)
	require.Len(t, list.Users, 2)
	require.Equal(t, protocol.PresenceOffline, list.Users[1].Status)

	// Presence Bob sets on node 1 reaches node 2's watcher.
	start = time.Now()
	r := rest.Do(t, "PUT", n1.URL()+"/v1/me/presence", n1.Token(t, "102"),
		map[string]any{"do_not_disturb": true, "status_text": "lunch"})
	require.Equal(t, 200, r.Status, string(r.Raw))
	e := presenceOf(t, ph, bob, func(e protocol.PresenceEntry) bool { return e.DoNotDisturb })
	require.Equal(t, "lunch", e.StatusText)
	setLatency := time.Since(start)

	// Carol's softphone on node 1 makes her available on node 2.
	start = time.Now()
	_, err = processPhone(t, n1, "103", 660)
	require.NoError(t, err)
	presenceOf(t, ph, carol, func(e protocol.PresenceEntry) bool { return e.Status == protocol.PresenceAvailable })
	deviceLatency := time.Since(start)

	// Bob's desk phone registers to node 2 over TCP: node 1 sees the
	// contact and the flow that reaches it.
	harness.StartBaresip(t, harness.BaresipOptions{User: "102", Password: "bob-sip-pass",
		Registrar: nodes[1].SIP, Transport: "tcp"})
	harness.CheckFor(t, 10*time.Second, func() error {
		locs := locationsOn(t, n1, bob)
		if len(locs) != 1 || locs[0].Node != "n2" || locs[0].Kind != "sip" || !strings.HasPrefix(locs[0].Flow, "tcp 127.0.0.1:") {
			return fmt.Errorf("bob's locations %+v", locs)
		}
		return nil
	})
	r = rest.Do(t, "GET", n1.URL()+"/v1/cluster/locations/"+strings.Repeat("x", 201), harness.AdminKey, nil)
	require.Equal(t, 400, r.Status, string(r.Raw))

	// Node 2 dies: its node entry and its users' locations vanish after the TTL.
	n2.Kill(t)
	killed := time.Now()
	harness.CheckFor(t, 10*clusterHeartbeat+5*time.Second, func() error {
		// Right after the kill a KV lookup can time out on a loaded
		// machine (503 cluster_unavailable): that is an answer to retry.
		for _, u := range []string{alice, bob} {
			r := rest.Do(t, "GET", n1.URL()+"/v1/cluster/locations/"+u, harness.AdminKey, nil)
			if r.Status != 200 {
				return fmt.Errorf("locations of %s: %d %s", u, r.Status, r.Raw)
			}
			if locs, _ := r.Body["data"].([]any); len(locs) != 0 {
				return fmt.Errorf("%s still at %+v", u, locs)
			}
		}
		r := rest.Do(t, "GET", n1.URL()+"/v1/cluster/nodes", harness.AdminKey, nil)
		if r.Status != 200 {
			return fmt.Errorf("nodes: %d %s", r.Status, r.Raw)
		}
		if nodes, _ := r.Body["data"].([]any); len(nodes) != 1 || nodes[0].(map[string]any)["node"] != "n1" {
			return fmt.Errorf("nodes %+v", nodes)
		}
		return nil
	})
	vanished := time.Since(killed)
	require.GreaterOrEqual(t, vanished, clusterHeartbeat, "entries outlive a kill by about the TTL, not less")
	t.Logf("cluster: location on the other node after %s; presence set on node 1 seen on node 2 after %s, a device after %s; node killed -9 gone after %s (TTL %s)",
		appeared.Round(time.Millisecond), setLatency.Round(time.Millisecond), deviceLatency.Round(time.Millisecond),
		vanished.Round(time.Millisecond), 3*clusterHeartbeat)
}

// TestClusterOff: without cluster.nats_url the endpoints say so.
func TestClusterOff(t *testing.T) {
	s := harness.Start(t, nil)
	r := s.Do(t, "GET", "/v1/cluster/nodes", harness.AdminKey, nil)
	require.Equal(t, 404, r.Status)
	require.Contains(t, string(r.Raw), "cluster_disabled")
	r = s.Do(t, "GET", "/v1/cluster/locations/user_x", "", nil)
	require.Equal(t, 401, r.Status)
}

// TestClusterPresenceEventsOnce: every node learns every presence change,
// and only the node where it happened writes the presence.changed event, so
// a change is one event, not one per node; what a dead node's departure
// changed is written by the live node with the lowest id. The heartbeat is
// long (a 6-s TTL) so that a loaded machine cannot make a node look dead
// and report a flap.
func TestClusterPresenceEventsOnce(t *testing.T) {
	ns := harness.StartNATS(t)
	bin := harness.BuildBinary(t)
	dirs := seedDataDir(t, bin, 2)
	conf := func(id string) string {
		return fmt.Sprintf("cluster:\n  nats_url: %s\n  node_id: %s\n  heartbeat: 2s\n", ns.URL, id)
	}
	n1 := harness.StartProcessIn(t, bin, dirs[0], conf("n1"))
	n2 := harness.StartProcessIn(t, bin, dirs[1], conf("n2"))
	alice, bob, carol := userID(t, n1, "101"), userID(t, n1, "102"), userID(t, n1, "103")
	harness.CheckFor(t, 10*time.Second, func() error {
		if nodes := nodesOn(t, n1); len(nodes) != 2 || !nodes[1].Reachable {
			return fmt.Errorf("nodes %+v", nodes)
		}
		return nil
	})
	events := map[string]*rest.SSE{}
	for name, n := range map[string]*harness.Process{"n1": n1, "n2": n2} {
		events[name] = rest.OpenSSE(t, n.URL()+"/v1/events?types=presence.changed", harness.AdminKey, "")
		require.Equal(t, 200, events[name].Status)
		t.Cleanup(events[name].Close)
	}
	_, err := processPhone(t, n2, "101", 440) // alice's device on n2
	require.NoError(t, err)
	r := rest.Do(t, "PUT", n1.URL()+"/v1/me/presence", n1.Token(t, "102"), map[string]any{"status_text": "lunch"})
	require.Equal(t, 200, r.Status, string(r.Raw))
	_, err = processPhone(t, n1, "103", 660) // carol's device on n1
	require.NoError(t, err)
	_, err = processPhone(t, n2, "102", 880) // bob's device on n2
	require.NoError(t, err)

	// n2: alice's device, then bob's; not bob's status text nor carol's
	// device (both on n1).
	require.Empty(t, nextPresence(t, events["n2"], alice, "available"))
	require.Empty(t, nextPresence(t, events["n2"], bob, "available"))
	// n1: bob's status text, then carol's device; not alice's (on n2).
	require.Equal(t, []presenceEvent{{bob, "offline"}}, nextPresence(t, events["n1"], carol, "available"))

	// n1 has heard of both devices on n2 (the events above come from
	// each node's own observer, not from the news between them).
	harness.CheckFor(t, 10*time.Second, func() error {
		for _, u := range []string{alice, bob} {
			var p struct{ Status string }
			n1.Get(t, "/v1/users/"+u+"/presence", &p)
			if p.Status != "available" {
				return fmt.Errorf("%s is %q on n1", u, p.Status)
			}
		}
		return nil
	})
	// n2 dies: n1, the live node with the lowest id, reports its users
	// offline, and never reported bob's device on n2.
	n2.Kill(t)
	got := []presenceEvent{readPresence(t, events["n1"]), readPresence(t, events["n1"])}
	require.ElementsMatch(t, []presenceEvent{{alice, "offline"}, {bob, "offline"}}, got)
}
