package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// setDialPlan changes the default account's dial plan.
func setDialPlan(t *testing.T, s *harness.Server, change func(p *store.DialPlan)) {
	t.Helper()
	ctx := context.Background()
	p, err := s.Store.GetDialPlan(ctx, s.Account)
	require.NoError(t, err)
	change(p)
	require.NoError(t, s.Store.PutDialPlan(ctx, p))
}

// followMe sets u's find-me/follow-me.
func followMe(t *testing.T, s *harness.Server, u store.User, final string, steps ...store.FollowMeStep) {
	t.Helper()
	require.NoError(t, s.Store.PutFollowMe(context.Background(), &store.FollowMe{UserID: u.ID, Steps: steps, FinalForward: final}))
}

// patchUser applies p to u.
func patchUser(t *testing.T, s *harness.Server, u store.User, p store.UserPatch) {
	t.Helper()
	_, err := s.Store.UpdateUser(context.Background(), u.ID, p)
	require.NoError(t, err)
}

// countOf is how many frames of typ c got, besides the ones waited for.
func countOf(c *softphone.Call, typ protocol.Type) int {
	n := 0
	for _, m := range c.History() {
		if m.MessageType() == typ {
			n++
		}
	}
	return n
}

// noIncoming requires that p is offered no call for d.
func noIncoming(t *testing.T, p *softphone.Phone, d time.Duration) {
	t.Helper()
	select {
	case c := <-p.Incoming():
		t.Fatalf("unexpected incoming call %s from %s", c.ID, c.From)
	case <-time.After(d): // watching for something that must not come
	}
}

// refusedWith waits for the caller's error frame and call.ended failed,
// and returns the error's message.
func refusedWith(t *testing.T, c *softphone.Call) string {
	t.Helper()
	e := harness.Wait(t, c, protocol.TypeError).(*protocol.Error)
	require.Equal(t, protocol.CodeCallFailed, e.Code, e.Message)
	harness.WaitEnded(t, c, protocol.EndFailed)
	return e.Message
}

// hangUp ends a connected call from c's side.
func hangUp(t *testing.T, c *softphone.Call) {
	t.Helper()
	require.NoError(t, c.Hangup())
	harness.WaitEnded(t, c, protocol.EndHangup)
}

// noCallsLeft waits until the server has no live call.
func noCallsLeft(t *testing.T, s *harness.Server) {
	t.Helper()
	harness.CheckFor(t, 5*time.Second, func() error {
		if n := s.Calls.Count(); n != 0 {
			return strErr("calls still up")
		}
		return nil
	})
}

// TestRoutingFollowMe: Bob's devices ring for 2 s, then his mobile
// through the trunk, which answers (and echoes Alice's audio).
func TestRoutingFollowMe(t *testing.T) {
	const mobile = "+14155550123"
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_answer.xml", RTPEcho: true})
	s := startWithTrunks(t, trunkTo("carrier", sipp, 0))
	followMe(t, s, s.Bob, "",
		store.FollowMeStep{Targets: []string{"devices"}, RingSeconds: 2},
		store.FollowMeStep{Targets: []string{mobile}, RingSeconds: 20})
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")

	dialled := time.Now() // the step starts after this, and lasts 2 s
	out := dial(t, alice, "102")
	in := harness.NextIncoming(t, bob)
	require.Equal(t, out.ID, in.ID)
	harness.Wait(t, out, protocol.TypeCallRinging)
	harness.WaitEnded(t, in, protocol.EndNoAnswer) // step 1 is over
	rang := time.Since(dialled)
	require.GreaterOrEqual(t, rang, 1950*time.Millisecond, "step 1 rings for 2 s")
	require.Less(t, rang, 7*time.Second, "step 1 rings for 2 s, then ends")
	harness.Wait(t, out, protocol.TypeCallAnswered) // the mobile answered
	require.Zero(t, countOf(out, protocol.TypeCallRinging), "the caller hears call.ringing once")
	harness.HearsTone(t, out, 440) // echoed by the trunk
	harness.HearsFor(t, out, time.Second)
	noIncoming(t, bob, 0)
	hangUp(t, out)
	sipp.RequireSuccess(t)

	msgs := sipp.Messages()
	require.Equal(t, 1, strings.Count(msgs, "INVITE sip:"), msgs)
	require.Contains(t, sentInvite(t, sipp), "INVITE sip:"+mobile+"@"+sipp.Addr+" SIP/2.0")
	rec := record(t, s, out.ID)
	require.Equal(t, "hangup", rec["end_reason"])
	require.Equal(t, string(s.Bob.ID), rec["to_user"])
	require.True(t, strings.HasPrefix(rec["answered_by"].(string), "trunk_"), rec["answered_by"])
	noCallsLeft(t, s)
}

// TestRoutingFollowMeRingsDevicesAgain: the documented shape, devices
// alone and then devices with the mobile: Bob's device rings again in step
// 2 and answers; the mobile's INVITE is cancelled.
func TestRoutingFollowMeRingsDevicesAgain(t *testing.T) {
	const mobile = "+14155550123"
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_ring_forever.xml"})
	s := startWithTrunks(t, trunkTo("carrier", sipp, 0))
	followMe(t, s, s.Bob, "",
		store.FollowMeStep{Targets: []string{"devices"}, RingSeconds: 1},
		store.FollowMeStep{Targets: []string{"devices", mobile}, RingSeconds: 20})
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")

	out := dial(t, alice, "102")
	first := harness.NextIncoming(t, bob)
	harness.WaitEnded(t, first, protocol.EndNoAnswer)
	again := harness.NextIncoming(t, bob)
	require.Equal(t, out.ID, again.ID)
	harness.CheckFor(t, 5*time.Second, func() error {
		if !strings.Contains(sipp.Messages(), "180 Ringing") {
			return strErr("the mobile is not ringing")
		}
		return nil
	})
	answer(t, again)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	harness.Wait(t, again, protocol.TypeCallAnswered)
	harness.HearsTone(t, out, 1000)
	harness.HearsTone(t, again, 440)
	sipp.RequireSuccess(t) // CANCEL, 200, 487, ACK
	hangUp(t, out)
	harness.WaitEnded(t, again, protocol.EndHangup)
	require.Equal(t, bob.SessionID(), record(t, s, out.ID)["answered_by"])
	noCallsLeft(t, s)
}

func TestRoutingDoNotDisturb(t *testing.T) {
	s := harness.Start(t, nil)
	dnd := true
	patchUser(t, s, s.Bob, store.UserPatch{DoNotDisturb: &dnd})
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	carol := s.Phone(t, s.Carol, 700, "")

	t.Run("no follow-me", func(t *testing.T) {
		out := dial(t, alice, "102")
		harness.WaitEnded(t, out, protocol.EndBusy)
		require.Zero(t, countOf(out, protocol.TypeCallRinging))
		noIncoming(t, bob, 300*time.Millisecond)
		require.Equal(t, "busy", record(t, s, out.ID)["end_reason"])
	})

	t.Run("follow-me skips the devices", func(t *testing.T) {
		followMe(t, s, s.Bob, "",
			store.FollowMeStep{Targets: []string{"devices"}, RingSeconds: 10},
			store.FollowMeStep{Targets: []string{"103"}, RingSeconds: 10})
		out := dial(t, alice, "102")
		in := harness.NextIncoming(t, carol) // at once: step 1 had nothing to ring
		require.Equal(t, "101", in.From)
		harness.Wait(t, out, protocol.TypeCallRinging)
		answer(t, in)
		harness.Wait(t, out, protocol.TypeCallAnswered)
		harness.HearsTone(t, out, 700)
		harness.HearsTone(t, in, 440)
		noIncoming(t, bob, 0)
		hangUp(t, out)
		harness.WaitEnded(t, in, protocol.EndHangup)
		rec := record(t, s, out.ID)
		require.Equal(t, carol.SessionID(), rec["answered_by"])
	})
	noCallsLeft(t, s)
}

func TestRoutingRingGroup(t *testing.T) {
	const groupDID = "+14155550111"
	// The trunk's host is never called; calls from its address and port are the trunk's.
	port := inboundPort(t)
	s := startWithTrunks(t, callingTrunk(port))
	ctx := context.Background()
	dave := store.User{AccountID: s.Account, Name: "Dave", Extension: "104"}
	require.NoError(t, s.Store.CreateUser(ctx, &dave))
	sales := store.RingGroup{AccountID: s.Account, Name: "Sales", Extension: "600",
		Members: []ident.UserID{s.Bob.ID, s.Carol.ID}, RingSeconds: 20}
	require.NoError(t, s.Store.CreateRingGroup(ctx, &sales))
	require.NoError(t, s.Store.CreatePhoneNumber(ctx,
		&store.PhoneNumber{AccountID: s.Account, Number: groupDID, RingGroupID: sales.ID}))
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	carol := s.Phone(t, s.Carol, 700, "")

	t.Run("DID from the trunk", func(t *testing.T) {
		sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uac_did.xml", Remote: s.SIP.Addr(),
			Service: groupDID, RTPEcho: true, Args: fromPort(port)})
		inBob := harness.NextIncoming(t, bob)
		inCarol := harness.NextIncoming(t, carol)
		require.Equal(t, inBob.ID, inCarol.ID)
		require.Equal(t, "+15105550123", inCarol.From)
		require.Equal(t, groupDID, inCarol.To)
		answer(t, inCarol)
		harness.WaitEnded(t, inBob, protocol.EndAnsweredElsewhere)
		harness.Wait(t, inCarol, protocol.TypeCallAnswered)
		harness.HearsTone(t, inCarol, 700) // echoed by the trunk
		noIncoming(t, alice, 0)
		hangUp(t, inCarol)
		sipp.RequireSuccess(t)
		rec := record(t, s, inCarol.ID)
		require.Equal(t, "inbound", rec["direction"])
		require.Equal(t, carol.SessionID(), rec["answered_by"])
	})

	t.Run("extension, then next", func(t *testing.T) {
		sales.RingSeconds, sales.Next = 1, "104"
		require.NoError(t, s.Store.UpdateRingGroup(ctx, &sales))
		daves := s.Phone(t, dave, 1200, "")
		out := dial(t, alice, "600")
		inBob := harness.NextIncoming(t, bob)
		inCarol := harness.NextIncoming(t, carol)
		harness.Wait(t, out, protocol.TypeCallRinging)
		harness.WaitEnded(t, inBob, protocol.EndNoAnswer)
		harness.WaitEnded(t, inCarol, protocol.EndNoAnswer)
		inDave := harness.NextIncoming(t, daves)
		require.Equal(t, "101", inDave.From)
		answer(t, inDave)
		harness.Wait(t, out, protocol.TypeCallAnswered)
		require.Zero(t, countOf(out, protocol.TypeCallRinging), "the caller hears call.ringing once")
		harness.HearsTone(t, out, 1200)
		harness.HearsTone(t, inDave, 440)
		hangUp(t, inDave)
		harness.WaitEnded(t, out, protocol.EndHangup)
		rec := record(t, s, out.ID)
		require.Equal(t, daves.SessionID(), rec["answered_by"])
	})
	noCallsLeft(t, s)
}

func TestRoutingNationalNumber(t *testing.T) {
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_answer.xml", RTPEcho: true})
	s := startWithTrunks(t, trunkTo("carrier", sipp, 0))
	setDialPlan(t, s, func(p *store.DialPlan) { p.Country = "US" })
	alice := s.Phone(t, s.Alice, 440, "")
	out := dial(t, alice, "4155550123")
	harness.Wait(t, out, protocol.TypeCallAnswered)
	harness.HearsTone(t, out, 440)
	hangUp(t, out)
	sipp.RequireSuccess(t)
	require.Contains(t, sentInvite(t, sipp), "INVITE sip:+14155550123@"+sipp.Addr+" SIP/2.0")
	require.Equal(t, "outbound", record(t, s, out.ID)["direction"])
}

// TestRoutingEmergency: a user who may not call out still reaches 911,
// through the dial plan's emergency trunk, as dialled.
func TestRoutingEmergency(t *testing.T) {
	carrier := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_busy.xml"})
	psap := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_answer.xml", RTPEcho: true})
	s := startWithTrunks(t, trunkTo("carrier", carrier, 0), trunkTo("psap", psap, 5))
	setDialPlan(t, s, func(p *store.DialPlan) { p.EmergencyTrunk = "psap" })
	no := false
	patchUser(t, s, s.Alice, store.UserPatch{CanCallExternal: &no})
	alice := s.Phone(t, s.Alice, 440, "")

	out := dial(t, alice, "911")
	harness.Wait(t, out, protocol.TypeCallAnswered)
	harness.HearsTone(t, out, 440)
	hangUp(t, out)
	psap.RequireSuccess(t)
	require.Contains(t, sentInvite(t, psap), "INVITE sip:911@"+psap.Addr+" SIP/2.0")

	out = dial(t, alice, external)
	require.Contains(t, refusedWith(t, out), "may not call numbers outside the account")
	require.NotContains(t, carrier.Messages(), "INVITE")
	noCallsLeft(t, s)
}

// TestRoutingTrunkFailover: the first trunk answers 503, the next one
// takes the call.
func TestRoutingTrunkFailover(t *testing.T) {
	down := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_unavailable.xml"})
	up := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_answer.xml", RTPEcho: true})
	s := startWithTrunks(t, trunkTo("second", up, 1), trunkTo("first", down, 0))
	alice := s.Phone(t, s.Alice, 440, "")
	out := dial(t, alice, external)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	harness.HearsTone(t, out, 440)
	hangUp(t, out)
	down.RequireSuccess(t)
	up.RequireSuccess(t)
	require.Contains(t, sentInvite(t, down), "INVITE sip:"+external+"@"+down.Addr)
	require.Contains(t, sentInvite(t, up), "INVITE sip:"+external+"@"+up.Addr)
}

// TestRoutingInternational: a number outside the dial plan's country
// needs its prefix on the allow-list, read at each call.
func TestRoutingInternational(t *testing.T) {
	const london = "+442079460000"
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_answer.xml", RTPEcho: true})
	s := startWithTrunks(t, trunkTo("carrier", sipp, 0))
	setDialPlan(t, s, func(p *store.DialPlan) { p.Country, p.InternationalAllow = "US", nil })
	alice := s.Phone(t, s.Alice, 440, "")

	out := dial(t, alice, london)
	require.Contains(t, refusedWith(t, out), "international")
	require.NotContains(t, sipp.Messages(), "INVITE")

	setDialPlan(t, s, func(p *store.DialPlan) { p.InternationalAllow = []string{"+44"} })
	out = dial(t, alice, london)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	harness.HearsTone(t, out, 440)
	hangUp(t, out)
	sipp.RequireSuccess(t)
	require.Contains(t, sentInvite(t, sipp), "INVITE sip:"+london+"@"+sipp.Addr+" SIP/2.0")
}

// TestRoutingEcho: *43 answers at once with the caller's own audio.
func TestRoutingEcho(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	out := dial(t, alice, "*43")
	harness.Wait(t, out, protocol.TypeCallAnswered)
	harness.HearsTone(t, out, 440)
	harness.HearsFor(t, out, time.Second)
	hangUp(t, out)
	noCallsLeft(t, s)
	rec := record(t, s, out.ID)
	require.Equal(t, "hangup", rec["end_reason"])
	require.Equal(t, "echo", rec["answered_by"])
	require.Equal(t, string(s.Alice.ID), rec["from_user"])
	legs := rec["legs"].([]any)
	require.Len(t, legs, 1)
	require.Greater(t, legs[0].(map[string]any)["packets_sent"].(float64), 10.0)

	// Again after the first: nothing of the first echo is left behind.
	out = dial(t, alice, "*43")
	harness.Wait(t, out, protocol.TypeCallAnswered)
	harness.HearsTone(t, out, 440)
	hangUp(t, out)
	noCallsLeft(t, s)
}

// TestRoutingOutboundCap: with a cap of one call through trunks, a second
// external call is refused while the first is up, an emergency call is
// not, and the cap frees up when the first call ends.
func TestRoutingOutboundCap(t *testing.T) {
	const other = "+12125550100"
	first := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_answer.xml", RTPEcho: true})
	psap := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_answer.xml"})
	later := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_answer.xml", RTPEcho: true})
	sf, sp, sl := trunkTo("sf", first, 0), trunkTo("psap", psap, 0), trunkTo("ny", later, 0)
	sf.Prefixes, sp.Prefixes, sl.Prefixes = []string{"+1415"}, []string{"+999"}, []string{"+1212"}
	s := startWithTrunks(t, sf, sp, sl)
	setDialPlan(t, s, func(p *store.DialPlan) { p.MaxOutboundCalls, p.EmergencyTrunk = 1, "psap" })
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	carol := s.Phone(t, s.Carol, 700, "")

	up := dial(t, alice, external)
	harness.Wait(t, up, protocol.TypeCallAnswered)
	harness.HearsTone(t, up, 440)

	out := dial(t, bob, other)
	require.Contains(t, refusedWith(t, out), "limit of concurrent calls through trunks")

	// Emergency calls are never capped, and do not free a place.
	sos := dial(t, carol, "911")
	harness.Wait(t, sos, protocol.TypeCallAnswered)
	hangUp(t, sos)
	psap.RequireSuccess(t)
	out = dial(t, bob, other)
	require.Contains(t, refusedWith(t, out), "limit")
	require.NotContains(t, later.Messages(), "INVITE")

	hangUp(t, up)
	first.RequireSuccess(t)
	require.Equal(t, 1, strings.Count(first.Messages(), "INVITE sip:"))
	out = dial(t, bob, other)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	harness.HearsTone(t, out, 1000)
	hangUp(t, out)
	later.RequireSuccess(t)
	noCallsLeft(t, s)
}

// TestDeskPhoneRefusedByDialPlan: a desk phone whose user may not call out
// gets 403 for an outside number; the trunk never sees the call.
func TestDeskPhoneRefusedByDialPlan(t *testing.T) {
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_answer.xml", IP: "127.0.0.2"})
	s := startWithTrunks(t, trunkTo("carrier", sipp, 0))
	no := false
	_, err := s.Store.UpdateUser(context.Background(), s.Alice.ID, store.UserPatch{CanCallExternal: &no})
	require.NoError(t, err)
	desk := aliceDesk(t, s, harness.BaresipOptions{})
	desk.Command(t, "dial", "sip:"+external+"@"+s.SIP.Addr())
	desk.WaitPrinted(t, "403 Forbidden", "no 403 for the desk phone yet")
	require.NotContains(t, sipp.Messages(), "INVITE sip:")
}
