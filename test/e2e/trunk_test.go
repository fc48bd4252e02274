package e2e

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
)

const (
	did      = "+14155550100" // the account's number, Alice's
	external = "+14155550199" // a number out on the trunk
)

// trunkTo is a trunk config pointing at a running sipp.
func trunkTo(name string, sipp *harness.Sipp, priority int) config.Trunk {
	return config.Trunk{Name: name, Host: sipp.IP, Port: sipp.Port, Priority: priority}
}

// startWithTrunks starts a server with trunks, and gives the account the
// number did, routed to Alice.
func startWithTrunks(t *testing.T, trunks ...config.Trunk) *harness.Server {
	t.Helper()
	s := harness.Start(t, func(c *config.Config) { c.Trunks = trunks })
	require.NoError(t, s.Store.CreatePhoneNumber(context.Background(),
		&store.PhoneNumber{AccountID: s.Account, Number: did, UserID: s.Alice.ID}))
	return s
}

// sentInvite returns the first INVITE sipp received.
func sentInvite(t *testing.T, sipp *harness.Sipp) string {
	t.Helper()
	msgs := sipp.Messages()
	i := strings.Index(msgs, "INVITE sip:")
	require.GreaterOrEqual(t, i, 0, "sipp saw no INVITE:\n%s", msgs)
	end := strings.Index(msgs[i:], "\n\n")
	if end < 0 {
		end = len(msgs) - i
	}
	return msgs[i : i+end]
}

func TestTrunkAnswers(t *testing.T) {
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_answer.xml", RTPEcho: true})
	s := startWithTrunks(t, trunkTo("carrier", sipp, 0))
	bob := s.Phone(t, s.Bob, 1000, "")
	out, err := bob.Call(harness.Ctx(t, 10*time.Second), external, softphone.WithCallerID(did))
	require.NoError(t, err)
	harness.Wait(t, out, protocol.TypeCallRinging)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	harness.HearsTone(t, out, 1000) // sipp echoes Bob's own tone back
	harness.HearsFor(t, out, time.Second)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	sipp.RequireSuccess(t)

	inv := sentInvite(t, sipp)
	require.Contains(t, inv, "INVITE sip:"+external+"@"+sipp.Addr+" SIP/2.0")
	// From: the caller ID asked for, nothing else (not Bob's extension, no name).
	require.Contains(t, inv, "\nFrom: <sip:"+did+"@127.0.0.1>;tag=")
	rec := record(t, s, out.ID)
	require.Equal(t, "outbound", rec["direction"])
	require.Equal(t, external, rec["to"])
	require.Equal(t, "hangup", rec["end_reason"])
	legs := rec["legs"].([]any)
	require.Len(t, legs, 2)
	require.Equal(t, "sip", legs[1].(map[string]any)["kind"])
}

func TestTrunkOutcomes(t *testing.T) {
	for _, tt := range []struct {
		scenario string
		want     protocol.EndReason
	}{
		{"uas_busy.xml", protocol.EndBusy},
		{"uas_decline.xml", protocol.EndRejected},
		{"uas_notfound.xml", protocol.EndFailed},
		{"uas_unavailable.xml", protocol.EndFailed}, // the only trunk: nothing to fail over to
	} {
		t.Run(tt.scenario, func(t *testing.T) {
			sipp := harness.StartSipp(t, harness.SippOptions{Scenario: tt.scenario})
			s := startWithTrunks(t, trunkTo("carrier", sipp, 0))
			bob := s.Phone(t, s.Bob, 1000, "")
			out := dial(t, bob, external)
			harness.WaitEnded(t, out, tt.want)
			sipp.RequireSuccess(t)
			for _, m := range out.History() {
				require.NotEqual(t, protocol.TypeCallRinging, m.MessageType(), "the trunk never rang")
			}
			require.Equal(t, string(tt.want), record(t, s, out.ID)["end_reason"])
		})
	}
}

func TestTrunkFailover(t *testing.T) {
	down := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_unavailable.xml"})
	up := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_answer.xml", RTPEcho: true})
	busy := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_busy.xml"})
	uk := config.Trunk{Name: "uk", Host: busy.IP, Port: busy.Port, Prefixes: []string{"+44"}} // never this one
	first := trunkTo("first", down, 0)
	first.Prefixes = []string{"+1"}
	second := trunkTo("second", up, 5) // no prefixes: every number, after the +1 trunks
	s := startWithTrunks(t, second, uk, first)
	bob := s.Phone(t, s.Bob, 1000, "")
	out := dial(t, bob, external)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	harness.HearsTone(t, out, 1000)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	down.RequireSuccess(t)
	up.RequireSuccess(t)
	require.NotContains(t, busy.Messages(), "INVITE")
}

func TestTrunkAuthenticates(t *testing.T) {
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_auth.xml", RTPEcho: true})
	tr := trunkTo("carrier", sipp, 0)
	tr.Username, tr.Password = "trunkuser", "trunkpass"
	s := startWithTrunks(t, tr)
	bob := s.Phone(t, s.Bob, 1000, "")
	out := dial(t, bob, external)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	harness.HearsTone(t, out, 1000)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	sipp.RequireSuccess(t)
	require.Contains(t, sipp.Messages(), `Authorization: Digest username="trunkuser"`)

	t.Run("wrong password", func(t *testing.T) {
		sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_auth.xml", Timeout: 5 * time.Second})
		tr := trunkTo("carrier", sipp, 0)
		tr.Username, tr.Password = "trunkuser", "wrong"
		s := startWithTrunks(t, tr)
		out := dial(t, s.Phone(t, s.Bob, 0, ""), external)
		harness.WaitEnded(t, out, protocol.EndFailed) // 403
		require.NotEqual(t, 0, sipp.Wait(t, 10*time.Second), "sipp accepted a wrong password")
	})
}

// TestTrunkFailoverOnSilence: a trunk that never answers (not even 100
// Trying) is left after sip.trunk_timeout for the next one.
func TestTrunkFailoverOnSilence(t *testing.T) {
	dead, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { dead.Close() })
	up := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_answer.xml", TCP: true})
	deadPort := dead.LocalAddr().(*net.UDPAddr).Port
	s := harness.Start(t, func(c *config.Config) {
		c.SIP.TrunkTimeout = 500 * time.Millisecond
		c.Trunks = []config.Trunk{
			{Name: "dead", Host: "127.0.0.1", Port: deadPort},
			{Name: "tcp", Host: up.IP, Port: up.Port, Transport: "tcp", Priority: 1},
		}
	})
	bob := s.Phone(t, s.Bob, 0, "")
	out := dial(t, bob, external)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	up.RequireSuccess(t)
	require.Contains(t, up.Messages(), "SIP/2.0/TCP")
}

func TestTrunkCancel(t *testing.T) {
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_ring_forever.xml"})
	s := startWithTrunks(t, trunkTo("carrier", sipp, 0))
	bob := s.Phone(t, s.Bob, 1000, "")
	out := dial(t, bob, external)
	harness.Wait(t, out, protocol.TypeCallRinging) // the trunk's 180
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	sipp.RequireSuccess(t) // CANCEL, 200, 487, ACK
}

func TestTrunkEarlyMedia(t *testing.T) {
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_early_media.xml", ToneHz: 800})
	s := startWithTrunks(t, trunkTo("carrier", sipp, 0))
	bob := s.Phone(t, s.Bob, 1000, "")
	out := dial(t, bob, external)
	harness.Wait(t, out, protocol.TypeCallRinging)
	harness.HearsTone(t, out, 800) // the trunk's announcement, before the answer
	for _, m := range out.History() {
		require.NotEqual(t, protocol.TypeCallAnswered, m.MessageType(), "early media came after the answer")
	}
	harness.Wait(t, out, protocol.TypeCallAnswered)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	sipp.RequireSuccess(t)
}

func TestTrunkHoldsAndResumes(t *testing.T) {
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_hold.xml"})
	s := startWithTrunks(t, trunkTo("carrier", sipp, 0))
	bob := s.Phone(t, s.Bob, 1000, "")
	out := dial(t, bob, external)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	held := harness.Wait(t, out, protocol.TypeCallHeld).(*protocol.CallHeld)
	require.Equal(t, protocol.HeldRemote, held.HeldBy)
	harness.HearsMusic(t, out, 1000)
	harness.Wait(t, out, protocol.TypeCallResumed)
	harness.WaitEnded(t, out, protocol.EndHangup) // the trunk's BYE
	sipp.RequireSuccess(t)
	require.Contains(t, sipp.Messages(), "a=recvonly") // our answer to its sendonly
}

// TestTrunkSeesOnlyValidatedDigits: a destination or caller ID with CR/LF
// from the browser never reaches the trunk; only the valid call does.
func TestTrunkSeesOnlyValidatedDigits(t *testing.T) {
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_answer.xml"})
	s := startWithTrunks(t, trunkTo("carrier", sipp, 0))
	bob := s.Phone(t, s.Bob, 0, "")

	out := dial(t, bob, external+"\r\nX-Evil: 1")
	harness.WaitEnded(t, out, protocol.EndFailed)
	_, err := bob.Call(harness.Ctx(t, 10*time.Second), external, softphone.WithCallerID(did+"\r\nX-Evil: 2"))
	var se *softphone.ServerError
	require.ErrorAs(t, err, &se)
	require.Equal(t, protocol.CodeInvalidMessage, se.Code)

	// Without a caller ID of its own, the call shows the account's number.
	out = dial(t, bob, external)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	require.NoError(t, out.Hangup())
	sipp.RequireSuccess(t)
	msgs := sipp.Messages()
	require.NotContains(t, msgs, "X-Evil")
	require.Equal(t, 1, strings.Count(msgs, "INVITE sip:"), msgs)
	require.Contains(t, sentInvite(t, sipp), "\nFrom: <sip:"+did+"@127.0.0.1>;tag=")
}

func TestTrunkAnonymousCallerID(t *testing.T) {
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_busy.xml"})
	s := harness.Start(t, func(c *config.Config) { c.Trunks = []config.Trunk{trunkTo("carrier", sipp, 0)} })
	bob := s.Phone(t, s.Bob, 0, "")
	out := dial(t, bob, external)
	harness.WaitEnded(t, out, protocol.EndBusy)
	sipp.RequireSuccess(t)
	inv := sentInvite(t, sipp)
	require.Contains(t, inv, "<sip:anonymous@anonymous.invalid>")
	require.Contains(t, inv, "Privacy: id")
}

func TestTrunkCallsDID(t *testing.T) {
	// The trunk's host is never called here; its address and port are what matter.
	port := inboundPort(t)
	s := startWithTrunks(t, callingTrunk(port))
	alice := s.Phone(t, s.Alice, 700, "")
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uac_did.xml", Remote: s.SIP.Addr(),
		Service: did, RTPEcho: true, Args: fromPort(port)})
	in := harness.NextIncoming(t, alice)
	require.Equal(t, "+15105550123", in.From)
	require.Equal(t, "Trunk Caller", in.FromName)
	require.Equal(t, did, in.To)
	answer(t, in)
	harness.Wait(t, in, protocol.TypeCallAnswered)
	harness.HearsTone(t, in, 700) // echoed by the trunk
	harness.HearsFor(t, in, time.Second)
	require.NoError(t, in.Hangup())
	harness.WaitEnded(t, in, protocol.EndHangup)
	sipp.RequireSuccess(t) // 180, 200, our BYE
	rec := record(t, s, in.ID)
	require.Equal(t, "inbound", rec["direction"])
	require.Equal(t, "+15105550123", rec["from"])
	require.Equal(t, string(s.Alice.ID), rec["to_user"])
}

func TestTrunkCallsNowhere(t *testing.T) {
	sipTrunk := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_answer.xml"})
	tr := trunkTo("carrier", sipTrunk, 0)
	port := inboundPort(t)
	tr.InboundAddresses = []string{"127.0.0.1:" + strconv.Itoa(port)} // it calls in from there
	s := startWithTrunks(t, tr)
	alice := s.Phone(t, s.Alice, 0, "")
	for _, number := range []string{"+14155550177", "101"} { // unowned (no hairpin back out), an extension
		sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uac_did_404.xml", Remote: s.SIP.Addr(), Service: number,
			Args: fromPort(port)})
		sipp.RequireSuccess(t)
	}
	select {
	case c := <-alice.Incoming():
		t.Fatalf("a refused trunk call reached alice: %s", c.ID)
	default:
	}
	require.NotContains(t, sipTrunk.Messages(), "INVITE", "a trunk call went back out to a trunk")
}

func TestUnknownSourceIsChallenged(t *testing.T) {
	s := startWithTrunks(t, config.Trunk{Name: "carrier", Host: "127.0.0.2", Port: 9})
	alice := s.Phone(t, s.Alice, 0, "")
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uac_did_407.xml", Remote: s.SIP.Addr(), Service: did})
	sipp.RequireSuccess(t)
	select {
	case c := <-alice.Incoming():
		t.Fatalf("an unauthenticated call reached alice: %s", c.ID)
	case <-time.After(500 * time.Millisecond):
	}
	require.Equal(t, 0, s.Calls.Count())
}

func TestDeskPhoneCallsOutThroughTrunk(t *testing.T) {
	// The trunk on another address than the phone's: calls from a trunk's
	// address are the trunk's.
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_answer.xml", RTPEcho: true, IP: "127.0.0.2"})
	s := startWithTrunks(t, trunkTo("carrier", sipp, 0))
	desk := aliceDesk(t, s, harness.BaresipOptions{ToneHz: 440})
	desk.Command(t, "dial", "sip:"+external+"@"+s.SIP.Addr())
	desk.WaitPrinted(t, "established", "the desk phone's call is not established")
	time.Sleep(2 * time.Second) // talk for a while: the echo goes into the phone's recording
	desk.Command(t, "hangup", "")
	sipp.RequireSuccess(t)
	desk.HeardTone(t, 440) // its own tone, echoed by the trunk
	require.Contains(t, sentInvite(t, sipp), "\nFrom: <sip:"+did+"@127.0.0.1>;tag=")
}
