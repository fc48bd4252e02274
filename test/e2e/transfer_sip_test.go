package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// TestBlindTransferOfTrunkCall: a trunk call answered in a browser is
// transferred to another browser, then to a desk phone; sipp echoes what
// it hears, so each final party hears its own tone back through the trunk.
func TestBlindTransferOfTrunkCall(t *testing.T) {
	port := inboundPort(t)
	s := startWithTrunks(t, callingTrunk(port))
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uac_did.xml", Remote: s.SIP.Addr(),
		Service: did, RTPEcho: true, Args: fromPort(port)})
	in := harness.NextIncoming(t, alice)
	answer(t, in)
	harness.HearsTone(t, in, 440) // echoed by the trunk

	require.NoError(t, in.Transfer("102"))
	harness.WaitEnded(t, in, protocol.EndTransferred)
	toBob := harness.NextIncoming(t, bob)
	require.Equal(t, "+15105550123", toBob.From, "bob sees the trunk caller")
	answer(t, toBob)
	harness.Wait(t, toBob, protocol.TypeCallAnswered)
	harness.HearsTone(t, toBob, 1000) // bob's tone went out the trunk and came back
	harness.HearsFor(t, toBob, time.Second)

	// Bob passes it on to Carol's desk phone.
	desk := harness.StartBaresip(t, harness.BaresipOptions{User: "103", Password: "carol-sip-pass",
		Registrar: s.SIP.Addr(), ToneHz: 700})
	registered(t, s, s.Carol, 1)
	require.NoError(t, toBob.Transfer("103"))
	harness.WaitEnded(t, toBob, protocol.EndTransferred)
	desk.HeardTone(t, 700) // the desk phone answered by itself and hears itself through the trunk
	desk.Command(t, "hangup", "")
	sipp.RequireSuccess(t) // our BYE reached the trunk

	rec := record(t, s, in.ID)
	require.Equal(t, "inbound", rec["direction"])
	require.Contains(t, rec["transfer"], "blind transfer by "+string(s.Bob.ID))
	legs := legEndReasons(rec)
	require.Equal(t, "transferred", legs[string(s.Alice.ID)])
	require.Equal(t, "transferred", legs[string(s.Bob.ID)])
	require.Equal(t, "hangup", legs[string(s.Carol.ID)])
}

// deskPhoneCallsAlice runs scenario as Carol's desk phone (sipp, digest
// as 103, NOTIFYs answered with -aa) calling Alice (440 Hz), who answers;
// its transfer target is Bob (1000 Hz, 102).
func deskPhoneCallsAlice(t *testing.T, scenario string) (*harness.Server, *harness.Sipp, *softphone.Call, *softphone.Phone) {
	t.Helper()
	s := harness.Start(t, func(c *config.Config) { c.SIP.MD5OnlyAgents = append(c.SIP.MD5OnlyAgents, "SIPp") })
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: scenario, Remote: s.SIP.Addr(),
		Service: "101", Keys: map[string]string{"consult": "102", "user": "103"},
		Args: []string{"-au", "103", "-ap", "carol-sip-pass", "-aa"}})
	fromDesk := harness.NextIncoming(t, alice)
	answer(t, fromDesk)
	harness.Wait(t, fromDesk, protocol.TypeCallAnswered)
	return s, sipp, fromDesk, bob
}

// TestDeskPhoneAttendedTransfer: a desk phone (sipp as Carol) calls Alice,
// consults Bob on a second dialog, and sends REFER with Replaces: Alice
// and Bob end up talking; the phone hears NOTIFY 100 then 200 and hangs
// up both of its dialogs itself.
func TestDeskPhoneAttendedTransfer(t *testing.T) {
	s, sipp, fromDesk, bob := deskPhoneCallsAlice(t, "uac_attended_refer.xml")
	consulted := harness.NextIncoming(t, bob)
	require.Equal(t, "103", consulted.From)
	answer(t, consulted)
	harness.Wait(t, consulted, protocol.TypeCallAnswered)

	sipp.RequireSuccess(t)
	msgs := sipp.Messages()
	require.Contains(t, msgs, "SIP/2.0 202 Accepted")
	first, final := strings.Index(msgs, "SIP/2.0 100 Trying\r\n"), strings.Index(msgs, "Subscription-State: terminated")
	require.True(t, first >= 0 && final > first, "NOTIFY 100 then a final NOTIFY:\n%s", msgs)
	require.Contains(t, msgs[final:], "SIP/2.0 200 OK")

	fromDesk.Detector().Reset()
	consulted.Detector().Reset()
	harness.HearsTone(t, fromDesk, 1000)
	harness.HearsTone(t, consulted, 440)
	require.NoError(t, consulted.Hangup())
	harness.WaitEnded(t, fromDesk, protocol.EndHangup)

	rec := record(t, s, fromDesk.ID)
	require.Contains(t, rec["transfer"], "attended transfer by "+string(s.Carol.ID))
	legs := legEndReasons(rec)
	require.Equal(t, "transferred", legs[string(s.Carol.ID)])
	require.Equal(t, "hangup", legs[string(s.Bob.ID)])
}

// TestDeskPhoneBlindTransfer: a desk phone (sipp as Carol) calls Alice and
// sends a REFER to 102: Alice hears ringback, then Bob.
func TestDeskPhoneBlindTransfer(t *testing.T) {
	_, sipp, fromDesk, bob := deskPhoneCallsAlice(t, "uac_blind_refer.xml")
	transferred := harness.NextIncoming(t, bob)
	require.Equal(t, "101", transferred.From, "bob sees alice, not the desk phone")
	harness.HearsTone(t, fromDesk, 480) // ringback while bob rings
	answer(t, transferred)
	harness.Wait(t, transferred, protocol.TypeCallAnswered)
	sipp.RequireSuccess(t)
	require.Contains(t, sipp.Messages(), "Subscription-State: terminated")
	fromDesk.Detector().Reset()
	harness.HearsTone(t, fromDesk, 1000)
	harness.HearsTone(t, transferred, 440)
	require.NoError(t, fromDesk.Hangup())
	harness.WaitEnded(t, transferred, protocol.EndHangup)
}

// TestBlindTransferToExternalNumber: a browser hands its caller to a number
// outside the account; the trunk (sipp) answers and echoes, so Alice hears
// her own tone through it.
func TestBlindTransferToExternalNumber(t *testing.T) {
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_answer.xml", RTPEcho: true})
	s := startWithTrunks(t, trunkTo("carrier", sipp, 0))
	alice := s.Phone(t, s.Alice, 700, "") // not a ringback frequency
	bob := s.Phone(t, s.Bob, 1000, "")
	out, in := harness.Connected(t, alice, bob, "102")
	require.NoError(t, in.Transfer(external))
	harness.WaitEnded(t, in, protocol.EndTransferred)
	out.Detector().Reset()
	harness.HearsTone(t, out, 700)
	require.Contains(t, sentInvite(t, sipp), "INVITE sip:"+external+"@")
	require.NoError(t, out.Hangup())
	sipp.RequireSuccess(t)
	rec := record(t, s, out.ID)
	require.Contains(t, rec["transfer"], "to "+external)
}
