package e2e

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// TestClusterResumeWithoutSessionID: Alice's softphone on n1 is in a call;
// its socket drops and it re-authenticates on n2 with its token alone, as
// DialStack's SDK does. Her session is the only one of hers holding calls
// in the cluster, so n2 takes it over from n1: authenticated
// {reconnected: true} with the old id, no call.restored, and the call.held
// Bob sent while she was away. Then she resumes, holds and resumes from
// n2 and both sides hear each other. Twice: the call owned by n1 (the
// node she left; she placed it) and by n2 (the node she arrives at; Bob
// called her).
func TestClusterResumeWithoutSessionID(t *testing.T) {
	nodes := startCluster(t, 2)
	n1, n2 := nodes[0], nodes[1]
	aliceID, bobID := userID(t, n1, "101"), userID(t, n1, "102")
	alice, err := processPhone(t, n1, "101", 440)
	require.NoError(t, err)
	bob, err := processPhone(t, n2, "102", 1000)
	require.NoError(t, err)
	waitLocated(t, n1, bobID, "n2")
	waitLocated(t, n2, aliceID, "n1")

	// 1. Owner n1, the node she leaves.
	out, in := harness.Connected(t, alice, bob, "102")
	require.Equal(t, "n1", ownerOf(out.ID))
	took1 := resumeElsewhere(t, alice, n1, n2, "n2", aliceID, out, in, 440, 1000)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, in, protocol.EndHangup)
	harness.WaitEnded(t, out, protocol.EndHangup)
	require.Equal(t, "n1", recordOn(t, n1, out.ID)["node_id"])

	// Back to n1 (by session_id: no calls to carry).
	alice.DropConnection()
	require.NoError(t, alice.ReconnectTo(harness.Ctx(t, 10*time.Second), n1.WebSocketURL()))
	waitLocated(t, n2, aliceID, "n1")

	// 2. Owner n2, the node she arrives at.
	fromBob, toAlice := harness.Connected(t, bob, alice, "101")
	require.Equal(t, "n2", ownerOf(fromBob.ID))
	took2 := resumeElsewhere(t, alice, n1, n2, "n2", aliceID, toAlice, fromBob, 440, 1000)
	require.NoError(t, toAlice.Hangup())
	harness.WaitEnded(t, fromBob, protocol.EndHangup)
	harness.WaitEnded(t, toAlice, protocol.EndHangup)
	require.Equal(t, alice.SessionID(), recordOn(t, n2, fromBob.ID)["answered_by"])
	t.Logf("re-authenticate without session_id on another node to authenticated: owner the node left %s, the new node %s",
		took1.Round(time.Millisecond), took2.Round(time.Millisecond))
}

// resumeElsewhere drops ph's socket on from; once from sees the session
// detached, the other party (theirs) holds the call; ph re-authenticates
// on to without session_id and must get its session and the call.held it
// missed, no call.restored, and control of the call with audio both ways.
// It returns the time the re-authentication took.
func resumeElsewhere(t *testing.T, ph *softphone.Phone, from, to *harness.Process, toName, user string,
	mine, theirs *softphone.Call, myFreq, theirFreq float64) time.Duration {
	t.Helper()
	session := ph.SessionID()
	ph.DropConnection()
	waitDeviceState(t, from, user, session, "detached")
	require.NoError(t, theirs.Hold())
	require.Equal(t, protocol.HeldLocal, heldBy(t, harness.Wait(t, theirs, protocol.TypeCallHeld)))

	start := time.Now()
	require.NoError(t, ph.ReconnectToWithoutSession(harness.Ctx(t, 10*time.Second), to.WebSocketURL()))
	took := time.Since(start)
	require.True(t, ph.Reconnected())
	require.Equal(t, session, ph.SessionID())
	require.Equal(t, protocol.HeldRemote, heldBy(t, harness.Wait(t, mine, protocol.TypeCallHeld)), "missed while away")
	waitLocated(t, from, user, toName)

	require.NoError(t, theirs.Resume())
	harness.Wait(t, theirs, protocol.TypeCallResumed)
	harness.Wait(t, mine, protocol.TypeCallResumed)
	require.NoError(t, mine.Hold())
	require.Equal(t, protocol.HeldLocal, heldBy(t, harness.Wait(t, mine, protocol.TypeCallHeld)))
	require.Equal(t, protocol.HeldRemote, heldBy(t, harness.Wait(t, theirs, protocol.TypeCallHeld)))
	harness.HearsMusic(t, theirs, myFreq)
	require.NoError(t, mine.Resume())
	harness.Wait(t, mine, protocol.TypeCallResumed)
	harness.Wait(t, theirs, protocol.TypeCallResumed)
	mine.Detector().Reset()
	theirs.Detector().Reset()
	harness.HearsTone(t, mine, theirFreq)
	harness.HearsTone(t, theirs, myFreq)
	for _, m := range mine.History() {
		require.NotEqual(t, protocol.TypeCallRestored, m.MessageType(), "no call.restored without session_id")
	}
	noErrors(t, ph, mine)
	return took
}

// waitDeviceState waits until node p lists user's session in state
// (connected, detached).
func waitDeviceState(t *testing.T, p *harness.Process, user, session, state string) {
	t.Helper()
	harness.CheckFor(t, 10*time.Second, func() error {
		r := adminGet(t, p, "/v1/users/"+user+"/devices")
		if r.Status != 200 {
			return fmt.Errorf("devices: %d %s", r.Status, r.Raw)
		}
		data, _ := r.Body["data"].([]any)
		for _, d := range data {
			if m, _ := d.(map[string]any); m["session_id"] == session {
				if m["state"] != state {
					return fmt.Errorf("session %s is %v", session, m["state"])
				}
				return nil
			}
		}
		return fmt.Errorf("session %s not listed: %s", session, r.Raw)
	})
}

// TestClusterResumeWithoutSessionIDAmbiguous: with two detached sessions
// of Alice holding calls, one on each node, a socket without session_id
// gets a new session on either node (whose calls they are would be a
// guess), and each session still resumes by its id. Then, with one such
// session left, two sockets without session_id at once, one on each
// node: exactly one gets it (its node decides), the other a new session.
func TestClusterResumeWithoutSessionIDAmbiguous(t *testing.T) {
	nodes := startCluster(t, 2)
	n1, n2 := nodes[0], nodes[1]
	aliceID := userID(t, n1, "101")
	alice1, err := processPhone(t, n1, "101", 440)
	require.NoError(t, err)
	alice2, err := processPhone(t, n2, "101", 440)
	require.NoError(t, err)
	bob, err := processPhone(t, n2, "102", 1000)
	require.NoError(t, err)
	carol, err := processPhone(t, n1, "103", 700)
	require.NoError(t, err)
	waitLocated(t, n1, userID(t, n1, "102"), "n2")
	waitLocated(t, n2, userID(t, n2, "103"), "n1")
	harness.Connected(t, alice1, bob, "102")
	out2, _ := harness.Connected(t, alice2, carol, "103")
	s1, s2 := alice1.SessionID(), alice2.SessionID()
	alice1.DropConnection()
	alice2.DropConnection()
	waitDeviceState(t, n1, aliceID, s1, "detached")
	waitDeviceState(t, n2, aliceID, s2, "detached")

	for i, n := range nodes {
		ph, err := softphone.Connect(harness.Ctx(t, 10*time.Second), softphone.Config{URL: n.WebSocketURL(), Token: n.Token(t, "101")})
		require.NoError(t, err)
		require.False(t, ph.Reconnected(), "n%d", i+1)
		require.NotContains(t, []string{s1, s2}, ph.SessionID())
		require.NoError(t, ph.Close())
	}
	require.NoError(t, alice2.Reconnect(harness.Ctx(t, 10*time.Second)))
	require.True(t, alice2.Reconnected())
	require.Equal(t, protocol.StateActive, harness.Wait(t, out2, protocol.TypeCallRestored).(*protocol.CallRestored).State)
	require.NoError(t, out2.Hangup())
	harness.WaitEnded(t, out2, protocol.EndHangup)

	// One left (alice1's on n1): two sockets race for it.
	type result struct {
		node      string
		session   string
		resumed   bool
		connected *softphone.Phone
	}
	results := make([]result, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		url, token, ctx := n.WebSocketURL(), n.Token(t, "101"), harness.Ctx(t, 10*time.Second)
		name := fmt.Sprintf("n%d", i+1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ph, err := softphone.Connect(ctx, softphone.Config{URL: url, Token: token})
			if err != nil {
				t.Errorf("%s: %v", name, err)
				return
			}
			results[i] = result{node: name, session: ph.SessionID(), resumed: ph.Reconnected(), connected: ph}
		}()
	}
	wg.Wait()
	won := 0
	for _, r := range results {
		require.NotNil(t, r.connected)
		t.Cleanup(func() { _ = r.connected.Close() })
		if r.resumed {
			won++
			require.Equal(t, s1, r.session, r.node)
		} else {
			require.NotEqual(t, s1, r.session, r.node)
		}
	}
	require.Equal(t, 1, won, "exactly one socket gets the session: %+v", results)
	for _, r := range results {
		t.Logf("racing socket on %s: resumed %v", r.node, r.resumed)
	}
}

// TestClusterResumeOverAStaleSocket: n1 still believes Alice's socket is
// up (her network vanished without a FIN) when she re-authenticates on n2
// without session_id. n1 pings the old socket, gets no pong within 2 s and
// hands the session over; the call (owned by n1) stays hers. A second
// device of hers whose socket answers keeps its session.
func TestClusterResumeOverAStaleSocket(t *testing.T) {
	nodes := startCluster(t, 2)
	n1, n2 := nodes[0], nodes[1]
	aliceID := userID(t, n1, "101")
	client, first := firstSocketFails(t)
	alice, err := softphone.Connect(harness.Ctx(t, 10*time.Second), softphone.Config{URL: n1.WebSocketURL(),
		Token: n1.Token(t, "101"), Source: audio.NewTone(440, softphone.SourceRate, 0.3), HTTPClient: client})
	require.NoError(t, err)
	t.Cleanup(func() { _ = alice.Close() })
	bob, err := processPhone(t, n2, "102", 1000)
	require.NoError(t, err)
	waitLocated(t, n1, userID(t, n1, "102"), "n2")
	out, in := harness.Connected(t, alice, bob, "102")
	harness.HearsTone(t, in, 440)
	session := alice.SessionID()

	// Another device of Alice's, idle and alive on n2, is not taken over.
	other, err := processPhone(t, n2, "101", 0)
	require.NoError(t, err)
	require.False(t, other.Reconnected())

	first().goSilent()
	alice.DropConnection()
	waitDeviceState(t, n1, aliceID, session, "connected") // n1 did not see the drop
	start := time.Now()
	require.NoError(t, alice.ReconnectToWithoutSession(harness.Ctx(t, 10*time.Second), n2.WebSocketURL()))
	took := time.Since(start)
	t.Logf("re-authenticated on n2 over a stale socket on n1 in %v", took.Round(time.Millisecond))
	require.True(t, alice.Reconnected())
	require.Equal(t, session, alice.SessionID())
	require.Less(t, took, 6*time.Second)

	require.NoError(t, out.Hold())
	require.Equal(t, protocol.HeldLocal, heldBy(t, harness.Wait(t, out, protocol.TypeCallHeld)))
	require.Equal(t, protocol.HeldRemote, heldBy(t, harness.Wait(t, in, protocol.TypeCallHeld)))
	require.NoError(t, out.Resume())
	harness.Wait(t, out, protocol.TypeCallResumed)
	in.Detector().Reset()
	out.Detector().Reset()
	harness.HearsTone(t, in, 440)
	harness.HearsTone(t, out, 1000)
	noErrors(t, alice, out)
	noErrors(t, other)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, in, protocol.EndHangup)
}
