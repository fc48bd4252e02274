package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/store/pgtest"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
	"github.com/switchboard-voice/switchboard/test/rest"
)

// The tones each device sends, so that what a side hears names who talks.
const (
	threeAliceHz = 440
	threeBob2Hz  = 700  // Bob's softphone on node 2
	threeBob3Hz  = 1000 // Bob's softphone on node 3
	threeCarolHz = 660
	threeDeskHz  = 1200 // Dave's desk phone (PCMU: under 4 kHz)
)

// threeNodes is the cluster of TestClusterThreeNodesPostgres and its
// devices. Everything here lives for the whole test (the phones are
// closed by its cleanup, not a phase's).
type threeNodes struct {
	n1, n2, n3              *harness.Process
	aliceID, bobID, carolID string
	alice, bob2, bob3       *softphone.Phone
	carol                   *softphone.Phone // on node 2
	desk                    *harness.Baresip // Dave's, registered via node 3
	figures                 []string         // measured, logged at the end
}

// TestClusterThreeNodesPostgres: nats-server, one PostgreSQL and three
// switchboard processes on loopback, with real softphones (tone
// detection at the far end) and a real desk phone. Alice (node 1) calls
// Bob, whose softphones are on nodes 2 and 3: both ring, node 3's
// answers, audio flows both ways; hold and DTMF both ways; Bob transfers
// her blind to Carol (node 2). Dave's desk phone registered via node 3
// answers a call created on node 1. Alice calls Bob again, he answers on
// node 2 and transfers her attended to Carol. Alice calls Bob a third
// time and her socket moves from node 1 to node 2 mid-call. Bob (node 3)
// calls Carol (node 2) and node 3 is killed -9: Alice's call (owner node
// 1, devices on node 2) goes on, Carol hears failed, and node 3's record
// is closed failed in the shared store, read through a surviving node's
// call history.
func TestClusterThreeNodesPostgres(t *testing.T) {
	c := startThreeNodes(t)
	for _, p := range []struct {
		name string
		run  func(t *testing.T)
	}{
		{"ring both, one answers, hold, DTMF, blind transfer", c.ringHoldDTMFBlind},
		{"desk phone via node 3 answers a call from node 1", c.deskPhone},
		{"attended transfer", c.attended},
		{"session moves, node 3 killed", c.moveAndKill},
	} {
		if !t.Run(p.name, p.run) {
			t.FailNow()
		}
	}
	t.Logf("three nodes: %s", strings.Join(c.figures, "; "))
}

// startThreeNodes starts the cluster on a fresh PostgreSQL database and
// connects the devices, then waits until node 1 (the callers' node) and
// node 3 know where each device is.
func startThreeNodes(t *testing.T) *threeNodes {
	t.Helper()
	nodes := startClusterOn(t, 3, pgtest.DSN(t))
	c := &threeNodes{n1: nodes[0], n2: nodes[1], n3: nodes[2]}
	c.aliceID, c.bobID, c.carolID = userID(t, c.n1, "101"), userID(t, c.n1, "102"), userID(t, c.n1, "103")
	r := rest.Do(t, "POST", c.n1.URL()+"/v1/users", harness.AdminKey,
		map[string]any{"name": "Dave", "extension": "104", "sip_password": "dave-sip-pass"})
	require.Equal(t, 201, r.Status, string(r.Raw))
	daveID := r.Body["id"].(string)
	c.desk = harness.StartBaresip(t, harness.BaresipOptions{User: "104", Password: "dave-sip-pass",
		Registrar: nodeSIP(t, c.n1, "n3"), ToneHz: threeDeskHz})
	var err error
	c.alice, err = processPhone(t, c.n1, "101", threeAliceHz)
	require.NoError(t, err)
	c.bob2, err = processPhone(t, c.n2, "102", threeBob2Hz)
	require.NoError(t, err)
	c.bob3, err = processPhone(t, c.n3, "102", threeBob3Hz)
	require.NoError(t, err)
	c.carol, err = processPhone(t, c.n2, "103", threeCarolHz)
	require.NoError(t, err)
	waitLocated(t, c.n1, c.bobID, "n2", "n3")
	waitLocated(t, c.n1, c.carolID, "n2")
	waitLocated(t, c.n1, daveID, "n3")
	waitLocated(t, c.n3, c.carolID, "n2")
	return c
}

func (c *threeNodes) logf(t *testing.T, format string, args ...any) {
	t.Helper()
	s := fmt.Sprintf(format, args...)
	t.Log(s)
	c.figures = append(c.figures, s)
}

// ringHoldDTMFBlind: Alice (n1) → Bob: his softphones on n2 and n3 ring,
// n3's answers, n2's hears answered-elsewhere; tones both ways; hold
// and resume from each side; DTMF both ways; Bob (n3) transfers Alice
// blind to Carol (n2); Carol hangs up.
func (c *threeNodes) ringHoldDTMFBlind(t *testing.T) {
	start := time.Now()
	out := dial(t, c.alice, "102")
	require.Equal(t, "n1", ownerOf(out.ID))
	ins := ringAll(t, out, c.bob2, c.bob3)
	ringing := time.Since(start)
	answered := answerOn(t, out, ins, 1)
	in := ins[1]
	harness.HearsTone(t, in, threeAliceHz)
	harness.HearsTone(t, out, threeBob3Hz)
	c.logf(t, "both of Bob's devices (n2, n3) ringing %s after call.create on n1; tones heard both ways %s after the answer (the detector needs 500 ms of audio)",
		ms(ringing), ms(time.Since(answered)))

	holdResume(t, in, out, threeBob3Hz)
	holdResume(t, out, in, threeAliceHz)
	dtmfBothWays(t, out, in, "123#", "9")

	toCarol := blindTransfer(t, out, in, c.carol, "103", threeAliceHz, threeCarolHz)
	require.NoError(t, toCarol.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	harness.WaitEnded(t, toCarol, protocol.EndHangup)
	rec := recordOn(t, c.n2, out.ID) // the shared store: any node reads it
	require.Equal(t, "n1", rec["node_id"])
	require.Contains(t, rec["transfer"], "blind transfer by "+c.bobID)
	legs := legEndReasons(rec)
	require.Equal(t, "transferred", legs[c.bobID])
	require.Equal(t, "hangup", legs[c.carolID])
}

// deskPhone: Alice (n1) calls Dave, whose desk phone registered via n3:
// n1 sends it the INVITE, it answers by itself, tones both ways.
func (c *threeNodes) deskPhone(t *testing.T) {
	start := time.Now()
	out := dial(t, c.alice, "104")
	harness.Wait(t, out, protocol.TypeCallAnswered)
	answered := time.Since(start)
	harness.HearsTone(t, out, threeDeskHz)
	c.desk.HeardTone(t, threeAliceHz)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	hungUp(t, c.desk)
	rec := recordOn(t, c.n1, out.ID)
	require.Equal(t, "n1", rec["node_id"])
	var kinds []string
	for _, l := range rec["legs"].([]any) {
		kinds = append(kinds, l.(map[string]any)["kind"].(string))
	}
	require.ElementsMatch(t, []string{"webrtc", "sip"}, kinds)
	c.logf(t, "desk phone registered via n3 answered a call created on n1 after %s", ms(answered))
}

// attended: Alice (n1) → Bob, answered on n2 this time; Bob consults
// Carol (n2; the consult is placed on n1, the owner) and completes;
// Alice and Carol talk; Alice hangs up.
func (c *threeNodes) attended(t *testing.T) {
	out := dial(t, c.alice, "102")
	ins := ringAll(t, out, c.bob2, c.bob3)
	answerOn(t, out, ins, 0)
	cons, fromBob := attendedTransfer(t, out, ins[0], c.carol, "103",
		transferTones{out: threeAliceHz, in: threeBob2Hz, target: threeCarolHz})
	require.Equal(t, "n1", ownerOf(cons.ID))
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	harness.WaitEnded(t, fromBob, protocol.EndHangup)
	require.Contains(t, recordOn(t, c.n3, out.ID)["transfer"], "attended transfer by "+c.bobID)
	require.Equal(t, "transferred", recordOn(t, c.n3, cons.ID)["end_reason"])
}

// moveAndKill: Alice (n1) → Bob, answered on n2; Alice's socket moves to
// n2 mid-call. Bob (n3) calls Carol (n2): n3 owns that call. n3 is
// killed -9: Carol hears failed; a surviving node closes n3's record
// failed and lists it in its call history; Alice and Bob (owner n1, both
// devices on n2) still hear each other and send DTMF.
func (c *threeNodes) moveAndKill(t *testing.T) {
	out := dial(t, c.alice, "102")
	ins := ringAll(t, out, c.bob2, c.bob3)
	answerOn(t, out, ins, 0)
	in := ins[0]
	moved := moveTo(t, c.alice, c.n2, out, in, threeAliceHz, threeBob2Hz)
	c.logf(t, "Alice's socket moved n1 → n2 mid-call: %s from the reconnect to call.restored", ms(moved))
	waitLocated(t, c.n1, c.aliceID, "n2")

	fromBob, toCarol := harness.Connected(t, c.bob3, c.carol, "103")
	require.Equal(t, "n3", ownerOf(fromBob.ID))
	harness.HearsTone(t, toCarol, threeBob3Hz)
	harness.HearsTone(t, fromBob, threeCarolHz)

	c.n3.Kill(t)
	killed := time.Now()
	harness.WaitEnded(t, toCarol, protocol.EndFailed)
	failedAfter := time.Since(killed)
	var dead callRecordJSON
	harness.CheckFor(t, 20*time.Second, func() error {
		for _, n := range []*harness.Process{c.n1, c.n2} {
			if dead = callRecords(t, n)[fromBob.ID]; dead.EndedAt == nil {
				return fmt.Errorf("n3's record still open on %s: %+v", n.Addr, dead)
			}
		}
		return nil
	})
	closedAfter := time.Since(killed)
	require.Equal(t, "failed", dead.EndReason)
	require.Equal(t, "n3", dead.NodeID)
	live := callRecords(t, c.n2)[out.ID]
	require.Equal(t, "n1", live.NodeID)
	require.Nil(t, live.EndedAt, "Alice's call is still on")
	harness.CheckFor(t, 5*time.Second, func() error { // logged after the records are closed
		for _, n := range []*harness.Process{c.n1, c.n2} {
			if strings.Contains(n.Output(), "closed the call records of a dead node") {
				return nil
			}
		}
		return fmt.Errorf("no survivor logged closing n3's records")
	})
	c.logf(t, "n3 killed -9: Carol (n2) heard failed after %s; n3's record closed failed after %s (heartbeat %s)",
		ms(failedAfter), ms(closedAfter), clusterHeartbeat)

	// Alice's call (owner n1, devices on n2) goes on.
	out.Detector().Reset()
	in.Detector().Reset()
	harness.HearsTone(t, out, threeBob2Hz)
	harness.HearsTone(t, in, threeAliceHz)
	dtmfBothWays(t, out, in, "5", "7")
	_, ended := out.EndReason()
	require.False(t, ended, "Alice's call (owner n1) survives n3")

	require.NoError(t, in.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	harness.WaitEnded(t, in, protocol.EndHangup)
	rec := recordOn(t, c.n2, out.ID)
	require.Equal(t, "hangup", rec["end_reason"])
	require.Equal(t, c.bob2.SessionID(), rec["answered_by"])
}

func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
