package e2e

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// Tones of the conference tests' parties.
const (
	deskHz  = 440.0  // alice's desk phone (baresip, PCMU)
	hostHz  = 1000.0 // bob's browser (Opus), the host
	carolHz = 700.0  // carol's browser (PCMU)
)

// conference has bob's browser call alice's desk phone, hold it, call
// carol's browser and merge the two calls; it returns bob's conference
// call, carol's call, the desk phone and the participants bob was sent.
func conference(t *testing.T, s *harness.Server) (host, carol *softphone.Call, desk *harness.Baresip, parts []protocol.ConferenceParticipant) {
	t.Helper()
	desk = aliceDesk(t, s, harness.BaresipOptions{ToneHz: int(deskHz)})
	bob := s.Phone(t, s.Bob, hostHz, "")
	host = dial(t, bob, "101")
	harness.Wait(t, host, protocol.TypeCallAnswered)
	harness.HearsTone(t, host, deskHz)
	require.NoError(t, host.Hold())
	harness.Wait(t, host, protocol.TypeCallHeld)

	toCarol, carol := harness.Connected(t, bob, s.Phone(t, s.Carol, carolHz, audio.PCMU), "103")
	require.NoError(t, host.Merge(toCarol))
	harness.WaitEnded(t, toCarol, protocol.EndMerged)
	harness.Wait(t, host, protocol.TypeCallResumed) // bob's hold ends with the merge
	up := harness.Wait(t, host, protocol.TypeConferenceUpdated).(*protocol.ConferenceUpdated)
	require.Len(t, up.Participants, 3)
	return host, carol, desk, up.Participants
}

// participant returns the id of the participant whose number is num.
func participant(t *testing.T, parts []protocol.ConferenceParticipant, num string) string {
	t.Helper()
	for _, p := range parts {
		if p.Number == num {
			return p.ParticipantID
		}
	}
	t.Fatalf("no participant %s in %+v", num, parts)
	return ""
}

// TestConferenceThreeParties: a browser (Opus), a desk phone (baresip,
// PCMU) and a browser on PCMU merged into one call each hear both others
// and never themselves; a muted participant is not heard; the host leaves
// and the others keep talking.
func TestConferenceThreeParties(t *testing.T) {
	s := harness.Start(t, nil)
	host, carol, desk, parts := conference(t, s)
	for _, p := range parts {
		require.Equal(t, p.Number == "102", p.Host, "%+v", p)
	}

	harness.HearsMix(t, host, []float64{deskHz, carolHz}, []float64{hostHz})
	harness.HearsMix(t, carol, []float64{deskHz, hostHz}, []float64{carolHz})
	desk.HeardMix(t, []float64{hostHz, carolHz}, []float64{deskHz})

	// The host mutes carol for everyone: nobody hears her.
	carolID := participant(t, parts, "103")
	require.NoError(t, host.MuteParticipant(carolID, true))
	up := harness.Wait(t, host, protocol.TypeConferenceUpdated).(*protocol.ConferenceUpdated)
	for _, p := range up.Participants {
		require.Equal(t, p.ParticipantID == carolID, p.Muted)
	}
	harness.HearsMix(t, host, []float64{deskHz}, []float64{carolHz, hostHz})
	desk.HeardMix(t, []float64{hostHz}, []float64{carolHz, deskHz})
	harness.HearsMix(t, carol, []float64{deskHz, hostHz}, []float64{carolHz}) // she still hears
	require.NoError(t, host.MuteParticipant(carolID, false))
	harness.Wait(t, host, protocol.TypeConferenceUpdated)

	// The host leaves (conference.host_leaves: stay): the others go on.
	require.NoError(t, host.Hangup())
	harness.WaitEnded(t, host, protocol.EndHangup)
	harness.HearsMix(t, carol, []float64{deskHz}, []float64{hostHz, carolHz})
	desk.HeardMix(t, []float64{carolHz}, []float64{hostHz, deskHz})
	noEvent(t, carol, 200*time.Millisecond, protocol.TypeCallEnded)

	// The last but one leaves: the conference ends, the desk phone gets a BYE.
	require.NoError(t, carol.Hangup())
	harness.WaitEnded(t, carol, protocol.EndHangup)
	desk.WaitPrinted(t, "closed", "the desk phone's call did not end")
	harness.CheckFor(t, 10*time.Second, func() error {
		if n := s.Calls.Count(); n != 0 {
			return strErr("calls still up")
		}
		return nil
	})

	rec := record(t, s, host.ID)
	require.Contains(t, rec["transfer"], "merged by "+string(s.Bob.ID))
	legs, _ := rec["legs"].([]any)
	require.Len(t, legs, 3, "each participant keeps its own leg: %v", rec["legs"])
}

// TestConferenceHostLeavesEnds: with conference.host_leaves: end the
// host's hangup ends the call for everyone.
func TestConferenceHostLeavesEnds(t *testing.T) {
	s := harness.Start(t, func(c *config.Config) { c.Conference.HostLeaves = config.HostLeavesEnd })
	host, carol, desk, _ := conference(t, s)
	harness.HearsMix(t, carol, []float64{deskHz, hostHz}, []float64{carolHz})
	require.NoError(t, host.Hangup())
	harness.WaitEnded(t, carol, protocol.EndHangup)
	desk.WaitPrinted(t, "closed", "the desk phone's call did not end")
	harness.CheckFor(t, 10*time.Second, func() error {
		if n := s.Calls.Count(); n != 0 {
			return strErr("calls still up")
		}
		return nil
	})
}

// TestConferenceMergeRefusals: merging a call with itself, an unknown
// call, an unanswered call or past max_participants is refused with a
// code and changes nothing.
func TestConferenceMergeRefusals(t *testing.T) {
	s := harness.Start(t, func(c *config.Config) { c.Conference.MaxParticipants = 3 })
	alice := s.Phone(t, s.Alice, deskHz, "")
	bob := s.Phone(t, s.Bob, hostHz, "")
	carol := s.Phone(t, s.Carol, carolHz, "")
	out1, _ := harness.Connected(t, alice, bob, "102")

	harness.ExpectRefused(t, alice, out1, protocol.CallMerge{CallID: out1.ID, WithCallID: "call_nope"}, protocol.CodeCallNotFound)
	ringing := dial(t, alice, "103")
	harness.Wait(t, ringing, protocol.TypeCallRinging)
	harness.ExpectRefused(t, alice, out1, protocol.CallMerge{CallID: out1.ID, WithCallID: ringing.ID}, protocol.CodeCallFailed)
	in2 := harness.NextIncoming(t, carol)
	answer(t, in2)
	harness.Wait(t, ringing, protocol.TypeCallAnswered)

	require.NoError(t, out1.Merge(ringing))
	harness.WaitEnded(t, ringing, protocol.EndMerged)
	harness.Wait(t, out1, protocol.TypeConferenceUpdated)

	// Full at three: a fourth party cannot be merged in.
	dave := s.Phone(t, s.Bob, 0, "") // bob's second device takes the call
	fourth := dial(t, alice, "102")
	harness.Wait(t, fourth, protocol.TypeCallRinging)
	var in4 *softphone.Call
	select {
	case in4 = <-dave.Incoming():
	case in4 = <-bob.Incoming():
	case <-time.After(10 * time.Second):
		t.Fatal("no incoming call")
	}
	answer(t, in4)
	harness.Wait(t, fourth, protocol.TypeCallAnswered)
	harness.ExpectRefused(t, alice, out1, protocol.CallMerge{CallID: out1.ID, WithCallID: fourth.ID}, protocol.CodeConferenceFull)
	harness.ExpectRefused(t, alice, out1, protocol.CallParticipantMute{CallID: out1.ID, ParticipantID: "leg_x", Muted: true},
		protocol.CodeCallNotFound)
	// Only the host manages participants.
	harness.ExpectRefused(t, carol, in2, protocol.CallParticipantRemove{CallID: in2.ID, ParticipantID: "leg_x"},
		protocol.CodeInvalidMessage)
}

// TestConferenceWithTrunkCall: a call out through a trunk (sipp, PCMU,
// playing a tone) merged with a browser on PCMU by a browser on Opus: the
// two browsers hear the trunk and each other, never themselves. (sipp
// cannot analyse what it hears; the desk phone test checks a SIP party's
// side through the same RTP endpoint.)
func TestConferenceWithTrunkCall(t *testing.T) {
	const trunkHz = 1300.0
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_answer_tone.xml", ToneHz: trunkHz, ToneFor: 40 * time.Second,
		Timeout: 60 * time.Second})
	s := startWithTrunks(t, trunkTo("carrier", sipp, 0))
	bob := s.Phone(t, s.Bob, hostHz, "")
	host := dial(t, bob, external)
	harness.Wait(t, host, protocol.TypeCallAnswered)
	harness.HearsTone(t, host, trunkHz)
	require.NoError(t, host.Hold())
	harness.Wait(t, host, protocol.TypeCallHeld)
	toCarol, carol := harness.Connected(t, bob, s.Phone(t, s.Carol, carolHz, audio.PCMU), "103")
	require.NoError(t, host.Merge(toCarol))
	harness.WaitEnded(t, toCarol, protocol.EndMerged)
	up := harness.Wait(t, host, protocol.TypeConferenceUpdated).(*protocol.ConferenceUpdated)
	require.Len(t, up.Participants, 3)

	harness.HearsMix(t, host, []float64{trunkHz, carolHz}, []float64{hostHz})
	harness.HearsMix(t, carol, []float64{trunkHz, hostHz}, []float64{carolHz})

	// The host removes the trunk call: it gets its BYE, the browsers go on.
	require.NoError(t, host.RemoveParticipant(participant(t, up.Participants, external)))
	up = harness.Wait(t, host, protocol.TypeConferenceUpdated).(*protocol.ConferenceUpdated)
	require.Len(t, up.Participants, 2)
	harness.HearsMix(t, carol, []float64{hostHz}, []float64{trunkHz, carolHz})
	sipp.RequireSuccess(t)
	require.NoError(t, carol.Hangup())
	harness.WaitEnded(t, host, protocol.EndHangup)
}

// TestConferenceBrowserDeskPhoneTrunk: the three kinds of party in one
// merged call — a browser (Opus, the host), a desk phone (baresip, PCMU)
// and a call out through a trunk (a baresip "carrier" answering at the
// trunk's address, PCMU) — each hear both others and never themselves,
// the trunk's side checked in what its far end recorded.
func TestConferenceBrowserDeskPhoneTrunk(t *testing.T) {
	const trunkHz = 1300.0
	carrier := harness.StartBaresip(t, harness.BaresipOptions{User: external, Password: "unused", Registrar: "127.0.0.1",
		ToneHz: int(trunkHz), NoRegister: true})
	host, port, err := net.SplitHostPort(carrier.SIPAddr)
	require.NoError(t, err)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	s := startWithTrunks(t, config.Trunk{Name: "carrier", Host: host, Port: p})
	desk := aliceDesk(t, s, harness.BaresipOptions{ToneHz: int(deskHz)})
	bob := s.Phone(t, s.Bob, hostHz, "")

	toDesk := dial(t, bob, "101")
	harness.Wait(t, toDesk, protocol.TypeCallAnswered)
	harness.HearsTone(t, toDesk, deskHz)
	require.NoError(t, toDesk.Hold())
	harness.Wait(t, toDesk, protocol.TypeCallHeld)
	toTrunk := dial(t, bob, external)
	harness.Wait(t, toTrunk, protocol.TypeCallAnswered)
	harness.HearsTone(t, toTrunk, trunkHz)
	require.NoError(t, toDesk.Merge(toTrunk))
	harness.WaitEnded(t, toTrunk, protocol.EndMerged)
	up := harness.Wait(t, toDesk, protocol.TypeConferenceUpdated).(*protocol.ConferenceUpdated)
	require.Len(t, up.Participants, 3)

	harness.HearsMix(t, toDesk, []float64{deskHz, trunkHz}, []float64{hostHz})
	desk.HeardMix(t, []float64{hostHz, trunkHz}, []float64{deskHz})
	carrier.HeardMix(t, []float64{hostHz, deskHz}, []float64{trunkHz})

	require.NoError(t, toDesk.Hangup()) // host_leaves: stay: the phone and the trunk go on
	harness.WaitEnded(t, toDesk, protocol.EndHangup)
	desk.HeardMix(t, []float64{trunkHz}, []float64{hostHz, deskHz})
	carrier.HeardMix(t, []float64{deskHz}, []float64{hostHz, trunkHz})
	desk.Command(t, "hangup", "") // one party left: the conference ends, the trunk gets its BYE
	carrier.WaitPrinted(t, "closed", "the trunk's call did not end")
	harness.CheckFor(t, 10*time.Second, func() error {
		if n := s.Calls.Count(); n != 0 {
			return strErr("calls still up")
		}
		return nil
	})
}

// TestConferenceAddByNumber: call.add rings an extension from an answered
// call; whoever answers joins, and everyone hears the others. An add
// nobody takes is refused to the host and changes nothing.
func TestConferenceAddByNumber(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, deskHz, "")
	bob := s.Phone(t, s.Bob, hostHz, audio.PCMU)
	carol := s.Phone(t, s.Carol, carolHz, "")
	host, toBob := harness.Connected(t, alice, bob, "102")

	require.NoError(t, host.Add("103"))
	up := harness.Wait(t, host, protocol.TypeConferenceUpdated).(*protocol.ConferenceUpdated)
	require.Len(t, up.Participants, 2, "accepted: carol is ringing")
	in := harness.NextIncoming(t, carol)
	require.Equal(t, "101", in.From, "carol sees the host calling")
	answer(t, in)
	up = harness.Wait(t, host, protocol.TypeConferenceUpdated).(*protocol.ConferenceUpdated)
	require.Len(t, up.Participants, 3)

	harness.HearsMix(t, host, []float64{hostHz, carolHz}, []float64{deskHz})
	harness.HearsMix(t, toBob, []float64{deskHz, carolHz}, []float64{hostHz})
	harness.HearsMix(t, in, []float64{deskHz, hostHz}, []float64{carolHz})

	// Carol leaves; a second add that is declined is refused to the host.
	require.NoError(t, in.Hangup())
	harness.Wait(t, host, protocol.TypeConferenceUpdated)
	require.NoError(t, host.Add("103"))
	harness.Wait(t, host, protocol.TypeConferenceUpdated)
	again := harness.NextIncoming(t, carol)
	require.NoError(t, again.Reject(protocol.RejectBusy))
	e := harness.Wait(t, host, protocol.TypeError).(*protocol.Error)
	require.Equal(t, protocol.CodeCallFailed, e.Code, e.Message)
	require.Contains(t, e.Message, "busy")
	harness.HearsMix(t, toBob, []float64{deskHz}, []float64{hostHz, carolHz})
	require.NoError(t, host.Hangup())
	harness.WaitEnded(t, toBob, protocol.EndHangup)
}
