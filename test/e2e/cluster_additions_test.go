package e2e

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// A device on another node than the call's owner hears the additions it
// uses as a local device does: bob on n2 parks a call n1 owns and gets
// call.parked with the slot; a pickup from n1 (the owner, where the slot
// is) talks to alice.
func TestClusterParkFromRemoteDevice(t *testing.T) {
	nodes := startCluster(t, 2)
	n1, n2 := nodes[0], nodes[1]
	bobID := userID(t, n1, "102")
	alice, err := processPhone(t, n1, "101", 440)
	require.NoError(t, err)
	bob, err := processPhone(t, n2, "102", 1000)
	require.NoError(t, err)
	carol, err := processPhone(t, n1, "103", 700)
	require.NoError(t, err)
	waitLocated(t, n1, bobID, "n2")

	out, in := harness.Connected(t, alice, bob, "102")
	require.NoError(t, in.Park())
	parked := harness.Wait(t, in, protocol.TypeCallParked).(*protocol.CallParked)
	require.Equal(t, "701", parked.Slot)
	harness.WaitEnded(t, in, protocol.EndTransferred)

	pick := dial(t, carol, parked.Slot)
	harness.Wait(t, pick, protocol.TypeCallAnswered)
	out.Detector().Reset()
	harness.HearsTone(t, pick, 440)
	harness.HearsTone(t, out, 700)
	require.NoError(t, pick.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
}
