package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// ringFor sets how long u's devices ring.
func ringFor(t *testing.T, s *harness.Server, u store.User, seconds int) {
	t.Helper()
	_, err := s.Store.UpdateUser(context.Background(), u.ID, store.UserPatch{RingTimeoutSeconds: &seconds})
	require.NoError(t, err)
}

// legEndReasons maps each leg's user (or device) in a call record to how
// it ended.
func legEndReasons(rec map[string]any) map[string]string {
	out := map[string]string{}
	legs, _ := rec["legs"].([]any)
	for _, l := range legs {
		m := l.(map[string]any)
		who, _ := m["user_id"].(string)
		if who == "" {
			who, _ = m["device"].(string)
		}
		reason, _ := m["end_reason"].(string)
		out[who] = reason
	}
	return out
}

// noEvent requires that c gets none of types for a while.
func noEvent(t *testing.T, c *softphone.Call, d time.Duration, types ...protocol.Type) {
	t.Helper()
	before := len(c.History())
	time.Sleep(d) // watching for something that must not come
	for _, m := range c.History()[before:] {
		for _, typ := range types {
			require.NotEqual(t, typ, m.MessageType(), "unexpected %s on %s", typ, c.ID)
		}
	}
}

func TestBlindTransferBetweenBrowsers(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	carol := s.Phone(t, s.Carol, 700, "")
	out, in := harness.Connected(t, alice, bob, "102")
	harness.HearsTone(t, out, 1000)

	require.NoError(t, in.Hold()) // transferring a held call: alice hears music, then carol
	harness.Wait(t, out, protocol.TypeCallHeld)
	require.NoError(t, in.Transfer("103"))
	harness.WaitEnded(t, in, protocol.EndTransferred)

	toCarol := harness.NextIncoming(t, carol)
	require.Equal(t, "101", toCarol.From, "carol sees who is transferred to her")
	require.Equal(t, "Alice", toCarol.FromName)
	out.Detector().Reset()
	harness.HearsTone(t, out, 480) // ringback while carol rings
	answer(t, toCarol)
	harness.Wait(t, toCarol, protocol.TypeCallAnswered)
	harness.Wait(t, out, protocol.TypeCallResumed) // bob's hold is gone with him
	harness.HearsTone(t, out, 700)
	harness.HearsTone(t, toCarol, 440)
	harness.HearsFor(t, out, time.Second)

	require.NoError(t, toCarol.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	for _, m := range out.History() { // frames alice's waits skipped
		require.NotContains(t, []protocol.Type{protocol.TypeCallAnswered, protocol.TypeCallIncoming},
			m.MessageType(), "alice's call goes on: no new call events")
	}

	rec := record(t, s, out.ID)
	require.Contains(t, rec["transfer"], "blind transfer by "+string(s.Bob.ID))
	legs := legEndReasons(rec)
	require.Equal(t, "transferred", legs[string(s.Bob.ID)])
	require.Equal(t, "hangup", legs[string(s.Alice.ID)])
	require.Equal(t, "hangup", legs[string(s.Carol.ID)])
}

func TestBlindTransferRefusedLeavesCallAlone(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	out, in := harness.Connected(t, alice, bob, "102")
	for _, dest := range []string{"999", "10\r\n2", "*43"} {
		require.NoError(t, in.Transfer(dest))
		e := harness.Wait(t, in, protocol.TypeError).(*protocol.Error)
		require.Equal(t, protocol.CodeCallFailed, e.Code, "%q: %s", dest, e.Message)
		require.Equal(t, in.ID, e.CallID)
	}
	noEvent(t, in, 300*time.Millisecond, protocol.TypeCallEnded)
	in.Detector().Reset()
	out.Detector().Reset()
	harness.HearsTone(t, in, 440)
	harness.HearsTone(t, out, 1000)
}

// targetFailures are the ways Carol (ringing 2 s) does not take a call.
var targetFailures = []struct {
	name   string
	carol  func(t *testing.T, c *softphone.Call)
	reason protocol.EndReason
}{
	{"busy", func(t *testing.T, c *softphone.Call) { require.NoError(t, c.Reject(protocol.RejectBusy)) }, protocol.EndBusy},
	{"rejected", func(t *testing.T, c *softphone.Call) { require.NoError(t, c.Reject(protocol.RejectDecline)) }, protocol.EndRejected},
	{"no-answer", func(*testing.T, *softphone.Call) {}, protocol.EndNoAnswer},
}

// threeUsers starts a server with Alice (440 Hz) connected to Bob (1000
// Hz), and Carol (700 Hz) ringing for 2 s.
func threeUsers(t *testing.T) (out, in *softphone.Call, carol *softphone.Phone) {
	t.Helper()
	s := harness.Start(t, nil)
	ringFor(t, s, s.Carol, 2)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	carol = s.Phone(t, s.Carol, 700, "")
	out, in = harness.Connected(t, alice, bob, "102")
	return out, in, carol
}

func TestBlindTransferTargetFails(t *testing.T) {
	for _, tt := range targetFailures {
		t.Run(tt.name, func(t *testing.T) {
			out, in, carol := threeUsers(t)
			require.NoError(t, in.Transfer("103"))
			harness.WaitEnded(t, in, protocol.EndTransferred)
			tt.carol(t, harness.NextIncoming(t, carol))
			harness.WaitEnded(t, out, tt.reason)
		})
	}
}

// consult starts an attended transfer from in to dest and returns the
// consult call; the original is held.
func consult(t *testing.T, in *softphone.Call, dest string) *softphone.Call {
	t.Helper()
	c, err := in.AttendedTransfer(harness.Ctx(t, 10*time.Second), dest)
	require.NoError(t, err)
	require.Equal(t, protocol.HeldLocal, heldBy(t, harness.Wait(t, in, protocol.TypeCallHeld)))
	return c
}

func TestAttendedTransferCompletes(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	carol := s.Phone(t, s.Carol, 700, "")
	out, in := harness.Connected(t, alice, bob, "102")

	cons := consult(t, in, "103")
	require.Equal(t, protocol.HeldRemote, heldBy(t, harness.Wait(t, out, protocol.TypeCallHeld)))
	harness.HearsMusic(t, out, 1000) // alice waits with music
	fromBob := harness.NextIncoming(t, carol)
	require.Equal(t, "102", fromBob.From)
	answer(t, fromBob)
	harness.Wait(t, cons, protocol.TypeCallAnswered)
	harness.HearsTone(t, cons, 700) // bob and carol talk
	harness.HearsTone(t, fromBob, 1000)

	require.NoError(t, in.CompleteTransfer())
	harness.WaitEnded(t, in, protocol.EndTransferred)
	harness.WaitEnded(t, cons, protocol.EndTransferred)
	harness.Wait(t, out, protocol.TypeCallResumed)
	out.Detector().Reset()
	fromBob.Detector().Reset()
	harness.HearsTone(t, out, 700)
	harness.HearsTone(t, fromBob, 440)
	noEvent(t, fromBob, 500*time.Millisecond, protocol.TypeCallEnded, protocol.TypeCallAnswered, protocol.TypeCallIncoming)

	// The joined pair controls the call under their own call ids.
	require.NoError(t, fromBob.Hold())
	harness.Wait(t, fromBob, protocol.TypeCallHeld)
	require.Equal(t, protocol.HeldRemote, heldBy(t, harness.Wait(t, out, protocol.TypeCallHeld)))
	require.NoError(t, fromBob.Resume())
	harness.Wait(t, out, protocol.TypeCallResumed)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, fromBob, protocol.EndHangup)

	orig := record(t, s, out.ID)
	require.Contains(t, orig["transfer"], "attended transfer by "+string(s.Bob.ID))
	require.Contains(t, orig["transfer"], cons.ID)
	legs := legEndReasons(orig)
	require.Equal(t, "transferred", legs[string(s.Bob.ID)])
	require.Equal(t, "hangup", legs[string(s.Carol.ID)])
	consRec := record(t, s, cons.ID)
	require.Equal(t, "transferred", consRec["end_reason"])
	require.Contains(t, consRec["transfer"], out.ID)
}

func TestAttendedTransferCancelResumes(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	carol := s.Phone(t, s.Carol, 700, "")
	out, in := harness.Connected(t, alice, bob, "102")
	cons := consult(t, in, "103")
	answer(t, harness.NextIncoming(t, carol))
	harness.Wait(t, cons, protocol.TypeCallAnswered)
	require.NoError(t, cons.Hangup()) // cancel: the original resumes
	harness.WaitEnded(t, cons, protocol.EndHangup)
	harness.Wait(t, in, protocol.TypeCallResumed)
	harness.Wait(t, out, protocol.TypeCallResumed)
	out.Detector().Reset()
	in.Detector().Reset()
	harness.HearsTone(t, out, 1000)
	harness.HearsTone(t, in, 440)
	// Nothing to complete any more.
	harness.ExpectRefused(t, bob, in, &protocol.CallTransferAttended{CallID: in.ID, Step: protocol.StepComplete},
		protocol.CodeInvalidMessage)
}

func TestAttendedTransferConsultFailsResumes(t *testing.T) {
	for _, tt := range targetFailures {
		t.Run(tt.name, func(t *testing.T) {
			out, in, carol := threeUsers(t)
			cons := consult(t, in, "103")
			tt.carol(t, harness.NextIncoming(t, carol))
			harness.WaitEnded(t, cons, tt.reason)
			harness.Wait(t, in, protocol.TypeCallResumed)
			harness.Wait(t, out, protocol.TypeCallResumed)
			out.Detector().Reset()
			harness.HearsTone(t, out, 1000)
		})
	}
}

func TestAttendedConsultToNowhereResumes(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	out, in := harness.Connected(t, alice, bob, "102")
	cons := consult(t, in, "999")
	harness.WaitEnded(t, cons, protocol.EndFailed)
	harness.Wait(t, in, protocol.TypeCallResumed)
	harness.Wait(t, out, protocol.TypeCallResumed)
}

// TestBlindTransferRecall: with calls.transfer_recall, a transfer the
// target does not take rings the transferor back, under a new call id.
func TestBlindTransferRecall(t *testing.T) {
	s := harness.Start(t, func(c *config.Config) { c.Calls.TransferRecall = true })
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	carol := s.Phone(t, s.Carol, 700, "")
	out, in := harness.Connected(t, alice, bob, "102")
	require.NoError(t, in.Transfer("103"))
	harness.WaitEnded(t, in, protocol.EndTransferred)
	require.NoError(t, harness.NextIncoming(t, carol).Reject(protocol.RejectBusy))

	back := harness.NextIncoming(t, bob)
	require.NotEqual(t, in.ID, back.ID, "the recall is a new call for bob")
	require.Equal(t, "101", back.From)
	answer(t, back)
	harness.Wait(t, back, protocol.TypeCallAnswered)
	out.Detector().Reset()
	harness.HearsTone(t, out, 1000)
	harness.HearsTone(t, back, 440)
	require.NoError(t, back.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	rec := record(t, s, out.ID)
	require.Contains(t, rec["transfer"], "recalling the transferor")
}
