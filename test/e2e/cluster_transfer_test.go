package e2e

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/protocol"
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
	require.NoError(t, in.Transfer("103"))
	harness.WaitEnded(t, in, protocol.EndTransferred)
	toCarol := harness.NextIncoming(t, carol)
	require.Equal(t, "101", toCarol.From)
	answer(t, toCarol)
	harness.Wait(t, toCarol, protocol.TypeCallAnswered)
	out.Detector().Reset()
	harness.HearsTone(t, out, 700)
	harness.HearsTone(t, toCarol, 440)
	require.NoError(t, toCarol.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	rec := recordOn(t, n1, out.ID)
	require.Contains(t, rec["transfer"], "blind transfer by "+bobID)
	legs := legEndReasons(rec)
	require.Equal(t, "transferred", legs[bobID])
	require.Equal(t, "hangup", legs[carolID])

	// Attended: Bob's consult call is placed on node 1 too.
	out, in = harness.Connected(t, alice, bob, "102")
	cons := consult(t, in, "103")
	require.True(t, strings.HasPrefix(cons.ID, "call_n1-"), cons.ID)
	require.Equal(t, protocol.HeldRemote, heldBy(t, harness.Wait(t, out, protocol.TypeCallHeld)))
	fromBob := harness.NextIncoming(t, carol)
	require.Equal(t, "102", fromBob.From)
	answer(t, fromBob)
	harness.Wait(t, cons, protocol.TypeCallAnswered)
	harness.HearsTone(t, cons, 700)
	harness.HearsTone(t, fromBob, 1000)
	require.NoError(t, in.CompleteTransfer())
	harness.WaitEnded(t, in, protocol.EndTransferred)
	harness.WaitEnded(t, cons, protocol.EndTransferred)
	harness.Wait(t, out, protocol.TypeCallResumed)
	out.Detector().Reset()
	fromBob.Detector().Reset()
	harness.HearsTone(t, out, 700)
	harness.HearsTone(t, fromBob, 440)
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
