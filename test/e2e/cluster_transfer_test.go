package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// TestClusterTransfers: transfers whatever node each device is on. Alice
// (node 1) calls Bob (node 2), who transfers her blind to Carol (node 3);
// then Alice calls Bob again, who consults Carol and completes an
// attended transfer. Node 1 owns every call and keeps the records.
func TestClusterTransfers(t *testing.T) {
	nodes := startCluster(t, 3)
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	bobID, carolID := userID(t, n1, "102"), userID(t, n1, "103")
	alice, err := processPhone(t, n1, "101", 440)
	require.NoError(t, err)
	bob, err := processPhone(t, n2, "102", 1000)
	require.NoError(t, err)
	carol, err := processPhone(t, n3, "103", 700)
	require.NoError(t, err)
	waitLocated(t, n1, bobID, "n2")
	waitLocated(t, n1, carolID, "n3")

	// Blind.
	out, in := harness.Connected(t, alice, bob, "102")
	harness.HearsTone(t, out, 1000)
	toCarol := blindTransfer(t, out, in, carol, "103", 440, 700)
	require.Equal(t, "101", toCarol.From)
	require.NoError(t, toCarol.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	rec := recordOn(t, n1, out.ID)
	require.Contains(t, rec["transfer"], "blind transfer by "+bobID)
	legs := legEndReasons(rec)
	require.Equal(t, "transferred", legs[bobID])
	require.Equal(t, "hangup", legs[carolID])

	// Attended: Bob's consult call is placed on node 1 too.
	out, in = harness.Connected(t, alice, bob, "102")
	cons, fromBob := attendedTransfer(t, out, in, carol, "103", transferTones{out: 440, in: 1000, target: 700})
	require.True(t, strings.HasPrefix(cons.ID, "call_n1-"), cons.ID)
	require.Equal(t, "102", fromBob.From)
	// Carol (node 3) controls the joined call under the consult's id.
	require.NoError(t, fromBob.Hold())
	harness.Wait(t, fromBob, protocol.TypeCallHeld)
	require.Equal(t, protocol.HeldRemote, heldBy(t, harness.Wait(t, out, protocol.TypeCallHeld)))
	require.NoError(t, fromBob.Resume())
	harness.Wait(t, out, protocol.TypeCallResumed)
	require.NoError(t, fromBob.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	harness.WaitEnded(t, fromBob, protocol.EndHangup)
	rec = recordOn(t, n1, out.ID)
	require.Contains(t, rec["transfer"], "attended transfer by "+bobID)
	require.Equal(t, "transferred", recordOn(t, n1, cons.ID)["end_reason"])
}

// TestClusterCallWaiting: Alice (node 2) has two calls owned by two other
// nodes: Bob's from node 1 and Carol's from node 3. The second waits
// while the first is active; she swaps between them; each owner relays
// to the same session.
func TestClusterCallWaiting(t *testing.T) {
	nodes := startCluster(t, 3)
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	bob, err := processPhone(t, n1, "102", 1000)
	require.NoError(t, err)
	alice, err := processPhone(t, n2, "101", 440)
	require.NoError(t, err)
	carol, err := processPhone(t, n3, "103", 700)
	require.NoError(t, err)
	aliceID := userID(t, n1, "101")
	waitLocated(t, n1, aliceID, "n2")
	waitLocated(t, n3, aliceID, "n2")

	fromBob, toAlice := harness.Connected(t, bob, alice, "101")
	require.True(t, strings.HasPrefix(fromBob.ID, "call_n1-"), fromBob.ID)
	toAlice.SetSource(audio.NewTone(440, softphone.SourceRate, 0.3))
	harness.HearsTone(t, fromBob, 440)
	fromCarol, err := carol.Call(harness.Ctx(t, 10*time.Second), "101")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(fromCarol.ID, "call_n3-"), fromCarol.ID)
	waiting := harness.NextIncoming(t, alice)
	require.Equal(t, "103", waiting.From)
	harness.Wait(t, fromCarol, protocol.TypeCallRinging)

	require.NoError(t, toAlice.Hold())
	harness.Wait(t, toAlice, protocol.TypeCallHeld)
	waiting.SetSource(audio.NewTone(440, softphone.SourceRate, 0.3))
	answer(t, waiting)
	harness.Wait(t, fromCarol, protocol.TypeCallAnswered)
	harness.HearsTone(t, waiting, 700)
	harness.HearsTone(t, fromCarol, 440)
	harness.HearsMusic(t, fromBob, 440)

	require.NoError(t, waiting.Hold())
	harness.Wait(t, waiting, protocol.TypeCallHeld)
	require.NoError(t, toAlice.Resume())
	harness.Wait(t, toAlice, protocol.TypeCallResumed)
	fromBob.Detector().Reset()
	harness.HearsTone(t, fromBob, 440)
	harness.HearsMusic(t, fromCarol, 440)

	require.NoError(t, fromCarol.Hangup())
	harness.WaitEnded(t, waiting, protocol.EndHangup)
	require.NoError(t, toAlice.Hangup())
	harness.WaitEnded(t, fromBob, protocol.EndHangup)
	require.Equal(t, "n1", recordOn(t, n1, fromBob.ID)["node_id"])
	require.Equal(t, "n3", recordOn(t, n3, fromCarol.ID)["node_id"])
}
