package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
	"github.com/switchboard-voice/switchboard/test/rest"
)

// TestClusterSessionMoves: Alice's socket drops mid-call and she
// reconnects with her session_id to another node; the session moves there
// and her call goes on (media stays on the owner). Three moves cover the
// three places the owner can be: the node she left (n1 → n2, Alice's own
// call), a third node (n2 → n1, Carol on n3 calls her) and the node she
// arrives at (n1 → n2, Bob on n2 calls her). Each time she gets
// call.restored, holds and resumes from the new node, both sides hear
// each other, hangup ends both sides and the owner writes the record.
// Her presence watch moves too. Last, a call that ended while her socket was away is replayed ended
// after a move.
func TestClusterSessionMoves(t *testing.T) {
	nodes := startCluster(t, 3)
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	aliceID, bobID := userID(t, n1, "101"), userID(t, n1, "102")
	alice, err := processPhone(t, n1, "101", 440)
	require.NoError(t, err)
	bob, err := processPhone(t, n2, "102", 1000)
	require.NoError(t, err)
	carol, err := processPhone(t, n3, "103", 700)
	require.NoError(t, err)
	waitLocated(t, n1, bobID, "n2")
	waitLocated(t, n3, aliceID, "n1")

	// Alice watches Carol's presence; the watch moves with her.
	carolID := userID(t, n1, "103")
	_, err = alice.Request(harness.Ctx(t, 5*time.Second), &protocol.PresenceSubscribe{Users: []string{carolID}})
	require.NoError(t, err)

	// 1. Owner n1, the node she leaves.
	out, in := harness.Connected(t, alice, bob, "102")
	require.Equal(t, "n1", ownerOf(out.ID))
	took := moveTo(t, alice, n2, out, in, 440, 1000)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, in, protocol.EndHangup)
	harness.WaitEnded(t, out, protocol.EndHangup)
	rec := recordOn(t, n1, out.ID)
	require.Equal(t, "n1", rec["node_id"], "the owner keeps the record")
	require.Equal(t, bob.SessionID(), rec["answered_by"])
	waitLocated(t, n3, aliceID, "n2")
	r := rest.Do(t, "PUT", n3.URL()+"/v1/me/presence", n3.Token(t, "103"), map[string]any{"status_text": "moved?"})
	require.Equal(t, 200, r.Status, string(r.Raw))
	presenceOf(t, alice, carolID, func(e protocol.PresenceEntry) bool { return e.StatusText == "moved?" })

	// 2. Owner n3, a third node.
	fromCarol, toAlice := harness.Connected(t, carol, alice, "101")
	require.Equal(t, "n3", ownerOf(fromCarol.ID))
	took3 := moveTo(t, alice, n1, toAlice, fromCarol, 440, 700)
	require.NoError(t, toAlice.Hangup())
	harness.WaitEnded(t, fromCarol, protocol.EndHangup)
	harness.WaitEnded(t, toAlice, protocol.EndHangup)
	require.Equal(t, alice.SessionID(), recordOn(t, n3, fromCarol.ID)["answered_by"])
	waitLocated(t, n2, aliceID, "n1")

	// 3. Owner n2, the node she arrives at.
	fromBob, toAlice := harness.Connected(t, bob, alice, "101")
	require.Equal(t, "n2", ownerOf(fromBob.ID))
	took2 := moveTo(t, alice, n2, toAlice, fromBob, 440, 1000)
	require.NoError(t, toAlice.Hangup())
	harness.WaitEnded(t, fromBob, protocol.EndHangup)
	harness.WaitEnded(t, toAlice, protocol.EndHangup)
	require.Equal(t, alice.SessionID(), recordOn(t, n2, fromBob.ID)["answered_by"])
	// 4. A call that ended while she was away: the new node replays its
	// call.ended, as a single node does.
	fromCarol, toAlice = harness.Connected(t, carol, alice, "101")
	alice.DropConnection()
	require.NoError(t, fromCarol.Hangup())
	harness.WaitEnded(t, fromCarol, protocol.EndHangup)
	recordOn(t, n3, fromCarol.ID)
	require.NoError(t, alice.ReconnectTo(harness.Ctx(t, 10*time.Second), n1.WebSocketURL()))
	require.True(t, alice.Reconnected())
	harness.WaitEnded(t, toAlice, protocol.EndHangup)

	t.Logf("reconnect to call.restored on the new node: owner the node left %s, a third node %s, the new node %s",
		took.Round(time.Millisecond), took3.Round(time.Millisecond), took2.Round(time.Millisecond))
}

// ownerOf is the node in a call id (call_<node>-<random>).
func ownerOf(id string) string {
	for i := len(id) - 1; i >= 0; i-- {
		if id[i] == '-' {
			return id[len("call_"):i]
		}
	}
	return ""
}

// moveTo drops mine's socket and reconnects it to node with its session:
// mine (her call) is restored active, she holds and resumes it, and both
// sides hear each other. It returns the time from reconnecting to
// call.restored.
func moveTo(t *testing.T, ph *softphone.Phone, node *harness.Process, mine, theirs *softphone.Call, myFreq, theirFreq float64) time.Duration {
	t.Helper()
	session := ph.SessionID()
	ph.DropConnection()
	start := time.Now()
	require.NoError(t, ph.ReconnectTo(harness.Ctx(t, 10*time.Second), node.WebSocketURL()))
	require.True(t, ph.Reconnected())
	require.Equal(t, session, ph.SessionID())
	r := harness.Wait(t, mine, protocol.TypeCallRestored).(*protocol.CallRestored)
	took := time.Since(start)
	require.Equal(t, mine.ID, r.CallID)
	require.Equal(t, protocol.StateActive, r.State)

	require.NoError(t, mine.Hold())
	require.Equal(t, protocol.HeldLocal, heldBy(t, harness.Wait(t, mine, protocol.TypeCallHeld)))
	require.Equal(t, protocol.HeldRemote, heldBy(t, harness.Wait(t, theirs, protocol.TypeCallHeld)))
	require.NoError(t, mine.Resume())
	harness.Wait(t, mine, protocol.TypeCallResumed)
	harness.Wait(t, theirs, protocol.TypeCallResumed)
	mine.Detector().Reset()
	theirs.Detector().Reset()
	harness.HearsTone(t, mine, theirFreq)
	harness.HearsTone(t, theirs, myFreq)
	return took
}

// TestClusterUnknownSessionIsNew: a session_id no node holds gets a new
// session on any node of a cluster, as on a single node.
func TestClusterUnknownSessionIsNew(t *testing.T) {
	nodes := startCluster(t, 2)
	n1, n2 := nodes[0], nodes[1]
	alice, err := processPhone(t, n1, "101", 440)
	require.NoError(t, err)
	waitLocated(t, n2, userID(t, n2, "101"), "n1")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Bob names Alice's session: not his, so not moved.
	for _, want := range []string{"sess_nosuchsession0000", alice.SessionID()} {
		ph, err := softphone.Connect(ctx, softphone.Config{URL: n2.WebSocketURL(), Token: n2.Token(t, "102"), SessionID: want})
		require.NoError(t, err)
		require.False(t, ph.Reconnected(), want)
		require.NotEqual(t, want, ph.SessionID())
		require.NoError(t, ph.Close())
	}
	// Alice's session stayed on n1.
	waitLocated(t, n2, userID(t, n2, "101"), "n1")
}
