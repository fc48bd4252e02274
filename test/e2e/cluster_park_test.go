package e2e

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// watchSlot subscribes ph to a park slot's presence and returns its
// current status.
func watchSlot(t *testing.T, ph *softphone.Phone, slot string) protocol.PresenceStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	reply, err := ph.Request(ctx, &protocol.PresenceSubscribe{Users: []string{slot}})
	require.NoError(t, err)
	list, ok := reply.(*protocol.PresenceList)
	require.True(t, ok, "reply %T", reply)
	require.Len(t, list.Users, 1)
	return list.Users[0].Status
}

// slotShows waits for ph's presence.update of slot with status.
func slotShows(t *testing.T, ph *softphone.Phone, slot string, status protocol.PresenceStatus) {
	t.Helper()
	presenceOf(t, ph, slot, func(e protocol.PresenceEntry) bool { return e.Status == status })
}

// parkCluster starts two nodes with alice (440 Hz) and bob (1000 Hz) on
// n1 and carol (700 Hz) on n2.
func parkCluster(t *testing.T) (n1, n2 *harness.Process, alice, bob, carol *softphone.Phone) {
	t.Helper()
	nodes := startCluster(t, 2)
	n1, n2 = nodes[0], nodes[1]
	var err error
	alice, err = processPhone(t, n1, "101", 440)
	require.NoError(t, err)
	bob, err = processPhone(t, n1, "102", 1000)
	require.NoError(t, err)
	carol, err = processPhone(t, n2, "103", 700)
	require.NoError(t, err)
	return n1, n2, alice, bob, carol
}

// TestClusterParkPickupOnAnotherNode: park slots are the account's across
// the cluster. Bob on n1 calls Alice on n1, who parks him in 701; Carol
// on n2 sees park.701 busy, dials 701 on n2 (handed to n1, which holds
// the parked call) and she and Bob hear each other (a desk phone's
// INVITE to 701 on n2 is redirected to n1 with 302); the slot is idle
// again on both nodes, and a second pickup on n2 finds it empty.
func TestClusterParkPickupOnAnotherNode(t *testing.T) {
	n1, n2, alice, bob, carol := parkCluster(t)
	const slot = "park.701"
	require.Equal(t, protocol.PresenceAvailable, watchSlot(t, alice, slot))
	require.Equal(t, protocol.PresenceAvailable, watchSlot(t, carol, slot))

	out, in := harness.Connected(t, bob, alice, "101")
	harness.HearsTone(t, out, 440)
	require.NoError(t, in.Park())
	parked := harness.Wait(t, in, protocol.TypeCallParked).(*protocol.CallParked)
	require.Equal(t, "701", parked.Slot)
	harness.WaitEnded(t, in, protocol.EndTransferred)
	harness.HearsMusic(t, out, 440)
	slotShows(t, alice, slot, protocol.PresenceOnCall)
	slotShows(t, carol, slot, protocol.PresenceOnCall)

	// A desk phone dialling 701 on n2 is redirected to n1, which holds
	// the parked call (as placement redirects phones to a node with room).
	sips := map[string]string{}
	for _, n := range nodesOn(t, n2) {
		sips[n.Node] = n.SIP
	}
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uac_redirect_302.xml", Remote: sips["n2"],
		Service: "701", Args: []string{"-au", "103", "-ap", "carol-sip-pass", "-key", "user", "103"}})
	sipp.RequireSuccess(t)
	require.Contains(t, sipp.Messages(), "Contact: <sip:701@"+sips["n1"]+">", "the 302 names n1")

	pick := dial(t, carol, parked.Slot)
	harness.Wait(t, pick, protocol.TypeCallAnswered)
	out.Detector().Reset()
	harness.HearsTone(t, pick, 1000)
	harness.HearsTone(t, out, 700)
	slotShows(t, alice, slot, protocol.PresenceAvailable)
	slotShows(t, carol, slot, protocol.PresenceAvailable)

	again := dial(t, carol, parked.Slot)
	e := harness.Wait(t, again, protocol.TypeError).(*protocol.Error)
	require.Contains(t, e.Message, "park slot 701 is empty")

	require.NoError(t, pick.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	rec := recordOn(t, n1, pick.ID)
	require.Contains(t, rec["transfer"], "from park slot 701", "n1, which held the parked call, ran the pickup")
}

// TestClusterParkNodeDies: the node holding a parked call is killed; the
// call is gone with it, and the other node shows the slot idle again once
// it sees the node gone, and finds it empty.
func TestClusterParkNodeDies(t *testing.T) {
	n1, _, alice, bob, carol := parkCluster(t)
	const slot = "park.701"
	require.Equal(t, protocol.PresenceAvailable, watchSlot(t, carol, slot))

	_, in := harness.Connected(t, bob, alice, "101")
	require.NoError(t, in.Park())
	harness.Wait(t, in, protocol.TypeCallParked)
	slotShows(t, carol, slot, protocol.PresenceOnCall)

	n1.Kill(t)
	killed := time.Now()
	slotShows(t, carol, slot, protocol.PresenceAvailable)
	t.Logf("n1 killed: its slot shown idle on n2 after %s (heartbeat %s)", time.Since(killed).Round(time.Millisecond),
		clusterHeartbeat)
	again := dial(t, carol, "701")
	e := harness.Wait(t, again, protocol.TypeError).(*protocol.Error)
	require.Contains(t, e.Message, "park slot 701 is empty")
}

// TestParkPickupAtCeiling: a node at its ceiling of calls still lets a
// parked call be picked up (the pickup takes the parked call's place),
// while another new call is refused.
func TestParkPickupAtCeiling(t *testing.T) {
	n1 := startCeilingCluster(t, 1)[0]
	alice, err := processPhone(t, n1, "101", 440)
	require.NoError(t, err)
	bob, err := processPhone(t, n1, "102", 1000)
	require.NoError(t, err)
	carol, err := processPhone(t, n1, "103", 700)
	require.NoError(t, err)
	out, in := harness.Connected(t, bob, alice, "101")
	require.NoError(t, in.Park())
	parked := harness.Wait(t, in, protocol.TypeCallParked).(*protocol.CallParked)
	harness.WaitEnded(t, in, protocol.EndTransferred)

	_, err = carol.Call(harness.Ctx(t, 10*time.Second), "*43")
	var se *softphone.ServerError
	require.True(t, errors.As(err, &se), "a new call at the ceiling: %v", err)
	require.Equal(t, protocol.CodeRateLimited, se.Code, se.Message)

	pick := dial(t, carol, parked.Slot)
	harness.Wait(t, pick, protocol.TypeCallAnswered)
	out.Detector().Reset()
	harness.HearsTone(t, pick, 1000)
	harness.HearsTone(t, out, 700)
	require.NoError(t, pick.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
}
