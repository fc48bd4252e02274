package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/store/pgtest"
	"github.com/switchboard-voice/switchboard/test/harness"
	"github.com/switchboard-voice/switchboard/test/rest"
)

// startCluster starts nats-server and n switchboard processes n1…nN on
// per-node copies of one seeded data directory, and waits until each
// node sees them all.
func startCluster(t *testing.T, n int) []*harness.Process { return startClusterOn(t, n, "") }

// startClusterOn is startCluster with, when dsn is set, one shared
// PostgreSQL store (as a real cluster has) instead of SQLite copies.
func startClusterOn(t *testing.T, n int, dsn string) []*harness.Process {
	t.Helper()
	ns := harness.StartNATS(t)
	bin := harness.BuildBinary(t)
	nodes := make([]*harness.Process, n)
	if dsn == "" {
		dirs := seedDataDir(t, bin, n)
		for i := range nodes {
			conf := fmt.Sprintf("cluster:\n  nats_url: %s\n  node_id: n%d\n  heartbeat: %s\n", ns.URL, i+1, clusterHeartbeat)
			nodes[i] = harness.StartProcessIn(t, bin, dirs[i], conf)
		}
	} else {
		keyFile := filepath.Join(t.TempDir(), "master.key") // shared: the store is
		for i := range nodes {
			conf := fmt.Sprintf("store:\n  driver: postgres\n  dsn: %q\nmaster_key_file: %s\n"+
				"cluster:\n  nats_url: %s\n  node_id: n%d\n  heartbeat: %s\n", dsn, keyFile, ns.URL, i+1, clusterHeartbeat)
			nodes[i] = harness.StartProcessIn(t, bin, filepath.Join(t.TempDir(), "data"), conf)
			if i == 0 {
				nodes[0].Token(t, "103") // the demo users exist before the next node seeds
			}
		}
	}
	for _, p := range nodes {
		harness.CheckFor(t, 10*time.Second, func() error {
			seen := nodesOn(t, p)
			if len(seen) != n {
				return fmt.Errorf("nodes %+v", seen)
			}
			for _, s := range seen {
				if !s.Reachable {
					return fmt.Errorf("node %s unreachable", s.Node)
				}
			}
			return nil
		})
	}
	return nodes
}

// waitLocated waits until from sees user's WebRTC devices on the nodes
// listed (one entry per device).
func waitLocated(t *testing.T, from *harness.Process, user string, nodes ...string) {
	t.Helper()
	harness.CheckFor(t, 10*time.Second, func() error {
		var got []string
		for _, l := range locationsOn(t, from, user) {
			got = append(got, l.Node)
		}
		if strings.Join(got, ",") != strings.Join(nodes, ",") {
			return fmt.Errorf("%s located on %v, want %v", user, got, nodes)
		}
		return nil
	})
}

// recordOn waits for the closed record of call id on node p.
func recordOn(t *testing.T, p *harness.Process, id string) map[string]any {
	t.Helper()
	var rec map[string]any
	harness.CheckFor(t, 5*time.Second, func() error {
		r := adminGet(t, p, "/v1/calls/"+id)
		if r.Status != 200 || r.Body["ended_at"] == nil {
			return fmt.Errorf("record not closed: %d %s", r.Status, r.Raw)
		}
		rec = r.Body
		return nil
	})
	return rec
}

func adminGet(t *testing.T, p *harness.Process, path string) harness.Response {
	t.Helper()
	return rest.Do(t, "GET", p.URL()+path, harness.AdminKey, nil)
}

// TestClusterCalls: three nodes on one nats-server, each with its own
// SQLite copy (TestClusterCallsPostgres: one shared PostgreSQL). Alice on node 1 calls
// Bob, whose devices are on nodes 2 and 3: both ring, the one on node 3
// answers, node 2's hears answered-elsewhere; audio flows both ways to
// node 1 (the owner, which anchors the media); hold and DTMF work from
// either side; Bob hangs up on node 3 and both ends hear it; node 1
// writes the record. Then Bob on node 2 calls Alice on node 1: node 2
// owns that call.
func TestClusterCalls(t *testing.T) { clusterCalls(t, startCluster(t, 3), false) }

// TestClusterCallsPostgres is TestClusterCalls on a shared PostgreSQL
// store: nats-server, Postgres and three switchboard processes.
func TestClusterCallsPostgres(t *testing.T) {
	clusterCalls(t, startClusterOn(t, 3, pgtest.DSN(t)), true)
}

// clusterCalls is the cross-node call scenario on three running nodes;
// shared says whether they share one store (then every node reads the
// owner's record).
func clusterCalls(t *testing.T, nodes []*harness.Process, shared bool) {
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	bobID := userID(t, n1, "102")
	alice, err := processPhone(t, n1, "101", 440)
	require.NoError(t, err)
	bob2, err := processPhone(t, n2, "102", 700)
	require.NoError(t, err)
	bob3, err := processPhone(t, n3, "102", 1000)
	require.NoError(t, err)
	waitLocated(t, n1, bobID, "n2", "n3")

	start := time.Now()
	out := dial(t, alice, "102")
	require.True(t, strings.HasPrefix(out.ID, "call_n1-"), "the owner's id is in the call id: %s", out.ID)
	ins := ringAll(t, out, bob2, bob3)
	ringing := time.Since(start)
	in2, in3 := ins[0], ins[1]
	require.Equal(t, "101", in3.From)
	require.Equal(t, "Alice", in3.FromName)
	answerOn(t, out, ins, 1)
	answered := time.Since(start)
	harness.HearsTone(t, in3, 440)
	harness.HearsTone(t, out, 1000)
	audio := time.Since(start)

	// The loser's late answer changes nothing.
	require.NoError(t, bob2.Send(&protocol.CallAnswer{CallID: in2.ID}))

	// Bob (node 3) holds and resumes; then Alice (node 1) does.
	holdResume(t, in3, out, 1000)
	holdResume(t, out, in3, 440)

	// DTMF both ways, and mute from node 3.
	dtmfBothWays(t, out, in3, "123#", "9")
	require.NoError(t, in3.Mute())
	harness.HearsSilence(t, out)
	require.NoError(t, in3.Unmute())
	out.Detector().Reset()
	harness.HearsTone(t, out, 1000)

	// Bob hangs up on node 3.
	require.NoError(t, in3.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	harness.WaitEnded(t, in3, protocol.EndHangup)
	rec := recordOn(t, n1, out.ID)
	require.Equal(t, bob3.SessionID(), rec["answered_by"])
	require.Equal(t, bobID, rec["to_user"])
	require.Equal(t, "n1", rec["node_id"])
	for _, l := range rec["legs"].([]any) {
		if l := l.(map[string]any); l["role"] == "callee" && l["answered"] == true {
			require.Greater(t, l["packets_received"].(float64), 10.0)
		}
	}
	if shared {
		require.Equal(t, "n1", recordOn(t, n3, out.ID)["node_id"], "one record, the owner's")
	} else {
		require.Equal(t, 404, adminGet(t, n3, "/v1/calls/"+out.ID).Status, "only the owner keeps the record")
	}

	// Bob on node 2 calls Alice on node 1: node 2 owns it; Bob hangs up.
	start = time.Now()
	out2 := dial(t, bob2, "101")
	require.True(t, strings.HasPrefix(out2.ID, "call_n2-"), out2.ID)
	inA := harness.NextIncoming(t, alice)
	answer(t, inA)
	harness.Wait(t, out2, protocol.TypeCallAnswered)
	answered2 := time.Since(start)
	harness.HearsTone(t, inA, 700)
	harness.HearsTone(t, out2, 440)
	require.NoError(t, out2.Hangup())
	harness.WaitEnded(t, inA, protocol.EndHangup)
	harness.WaitEnded(t, out2, protocol.EndHangup)
	rec = recordOn(t, n2, out2.ID)
	require.Equal(t, alice.SessionID(), rec["answered_by"])

	// A command for a call that is over gets call_not_found from the owner.
	require.NoError(t, alice.Send(&protocol.CallHangup{CallID: inA.ID}))
	select {
	case e := <-alice.Errors():
		require.Equal(t, protocol.CodeCallNotFound, e.Code, e.Message)
		require.Equal(t, inA.ID, e.CallID)
	case <-time.After(5 * time.Second):
		t.Fatal("no call_not_found for a call that is over")
	}
	t.Logf("cross-node call: both remote devices ringing after %s, answered (answer to call.answered at the caller) after %s, tones heard both ways after %s; reverse call answered after %s",
		ringing.Round(time.Millisecond), answered.Round(time.Millisecond), audio.Round(time.Millisecond),
		answered2.Round(time.Millisecond))
}

// TestClusterCallsNodeDies: a node killed -9 mid-call. When it held the
// callee's device, the owner's call ends and its record is closed; when
// it owned the call, devices on the other nodes hear call.ended (failed).
func TestClusterCallsNodeDies(t *testing.T) {
	nodes := startCluster(t, 3)
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	alice, err := processPhone(t, n1, "101", 440)
	require.NoError(t, err)
	bob, err := processPhone(t, n2, "102", 700)
	require.NoError(t, err)
	carol, err := processPhone(t, n3, "103", 1000)
	require.NoError(t, err)
	waitLocated(t, n1, userID(t, n1, "102"), "n2")
	waitLocated(t, n3, userID(t, n1, "101"), "n1")

	// Bob's node dies: Alice's call (owned by node 1) ends.
	out, in := harness.Connected(t, alice, bob, "102")
	harness.HearsTone(t, in, 440)
	n2.Kill(t)
	killed := time.Now()
	e := harness.Wait(t, out, protocol.TypeCallEnded).(*protocol.CallEnded)
	ended := time.Since(killed)
	rec := recordOn(t, n1, out.ID)
	require.Equal(t, string(e.Reason), rec["end_reason"])

	// Carol (node 3) calls Alice (node 1); node 3 dies: Alice hears failed.
	out2, in2 := harness.Connected(t, carol, alice, "101")
	require.True(t, strings.HasPrefix(out2.ID, "call_n3-"), out2.ID)
	harness.HearsTone(t, in2, 1000)
	n3.Kill(t)
	killed = time.Now()
	harness.WaitEnded(t, in2, protocol.EndFailed)
	ownerGone := time.Since(killed)
	t.Logf("device's node killed: the owner ended the call (%s) after %s; owner killed: the device heard failed after %s (heartbeat %s)",
		e.Reason, ended.Round(time.Millisecond), ownerGone.Round(time.Millisecond), clusterHeartbeat)
}

// TestClusterCallsDeskPhone: Bob's desk phone registers (UDP) via node 3
// and his browser is on node 2; Alice on node 1 calls him: both ring,
// node 1 sends the desk phone its INVITE directly, the desk phone
// answers (baresip answers by itself) and the browser hears
// answered-elsewhere; audio flows both ways; Alice hangs up and the desk
// phone gets the BYE.
func TestClusterCallsDeskPhone(t *testing.T) {
	nodes := startCluster(t, 3)
	n1, n2 := nodes[0], nodes[1]
	bobID := userID(t, n1, "102")
	desk := harness.StartBaresip(t, harness.BaresipOptions{User: "102", Password: "bob-sip-pass", Registrar: nodeSIP(t, n1, "n3"), ToneHz: 440})
	alice, err := processPhone(t, n1, "101", 1000)
	require.NoError(t, err)
	tab, err := processPhone(t, n2, "102", 700)
	require.NoError(t, err)
	waitLocated(t, n1, bobID, "n2", "n3")

	start := time.Now()
	out := dial(t, alice, "102")
	in := harness.NextIncoming(t, tab)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	answered := time.Since(start)
	harness.WaitEnded(t, in, protocol.EndAnsweredElsewhere)
	harness.HearsTone(t, out, 440)
	desk.HeardTone(t, 1000)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	hungUp(t, desk)
	rec := recordOn(t, n1, out.ID)
	var kinds []string
	for _, l := range rec["legs"].([]any) {
		kinds = append(kinds, l.(map[string]any)["kind"].(string))
	}
	require.ElementsMatch(t, []string{"webrtc", "sip"}, kinds, "the caller and the leg that answered")
	t.Logf("desk phone registered via node 3 answered a call owned by node 1 after %s", answered.Round(time.Millisecond))
}

// TestClusterCallSurvivesDroppedSocket: Bob on node 2 is in a call node 1
// owns; his socket drops and comes back to node 2. The call goes on
// (media is between his phone and node 1), his node keeps his session
// for it, and on resuming he gets call.restored from the owner before
// the call.held he missed, then controls the call again.
func TestClusterCallSurvivesDroppedSocket(t *testing.T) {
	nodes := startCluster(t, 2)
	n1, n2 := nodes[0], nodes[1]
	alice, err := processPhone(t, n1, "101", 440)
	require.NoError(t, err)
	bob, err := processPhone(t, n2, "102", 1000)
	require.NoError(t, err)
	waitLocated(t, n1, userID(t, n1, "102"), "n2")
	out, in := harness.Connected(t, alice, bob, "102")
	harness.HearsTone(t, in, 440)
	sessionID := bob.SessionID()

	bob.DropConnection()
	in.Detector().Reset()
	out.Detector().Reset()
	harness.HearsTone(t, in, 440)
	harness.HearsTone(t, out, 1000)
	require.NoError(t, out.Hold())
	harness.Wait(t, out, protocol.TypeCallHeld)
	// A call to Bob meanwhile does not ring his session that is away (as
	// on a single node), and leaves his call alone.
	carol, err := processPhone(t, n1, "103", 700)
	require.NoError(t, err)
	toBob := dial(t, carol, "102")
	e := harness.Wait(t, toBob, protocol.TypeCallEnded).(*protocol.CallEnded)
	t.Logf("a call to a user whose only session is away on another node ends: %s", e.Reason)

	require.NoError(t, bob.Reconnect(harness.Ctx(t, 10*time.Second)))
	require.True(t, bob.Reconnected())
	require.Equal(t, sessionID, bob.SessionID())
	r := harness.Wait(t, in, protocol.TypeCallRestored).(*protocol.CallRestored)
	require.Equal(t, in.ID, r.CallID)
	require.Equal(t, protocol.StateHeld, r.State)
	require.Equal(t, protocol.HeldRemote, r.HeldBy)
	require.Equal(t, "101", r.From)
	harness.HearsMusic(t, in, 440)
	select {
	case c := <-bob.Incoming():
		t.Fatalf("bob was rung while away: %s", c.ID)
	default:
	}

	require.NoError(t, out.Resume())
	harness.Wait(t, in, protocol.TypeCallResumed)
	require.NoError(t, in.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	harness.WaitEnded(t, in, protocol.EndHangup)
}
