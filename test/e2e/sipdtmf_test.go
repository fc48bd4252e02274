package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// TestDTMFBrowserAndDeskPhone: RFC 4733 digits cross the bridge both ways
// between a browser (Opus, 48 kHz events) and a desk phone (PCMU, 8 kHz).
func TestDTMFBrowserAndDeskPhone(t *testing.T) {
	s := harness.Start(t, nil)
	desk, out := bobCallsDesk(t, s)
	harness.HearsTone(t, out, 440)

	require.NoError(t, out.SendDTMF("123#*0"))
	harness.CheckFor(t, 10*time.Second, func() error {
		if got := desk.ReceivedDTMF(); got != "123#*0" {
			return fmt.Errorf("desk phone received DTMF %q", got)
		}
		return nil
	})

	desk.SendDTMF(t, "4567")
	harness.CheckFor(t, 10*time.Second, func() error {
		if got := string(out.DTMF()); got != "4567" {
			return fmt.Errorf("browser received DTMF %q", got)
		}
		return nil
	})
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
}

// TestDTMFFromSIPInfo: a trunk sending DTMF in INFO (application/dtmf-relay)
// gets 200, and the browser hears the digit as an RFC 4733 event; an INFO
// body of an unknown type gets 415.
func TestDTMFFromSIPInfo(t *testing.T) {
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_info_dtmf.xml", RTPEcho: true})
	s := startWithTrunks(t, trunkTo("carrier", sipp, 0))
	bob := s.Phone(t, s.Bob, 1000, "")
	out := dial(t, bob, external)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	harness.CheckFor(t, 10*time.Second, func() error {
		if got := string(out.DTMF()); got != "7" {
			return fmt.Errorf("browser received DTMF %q", got)
		}
		return nil
	})
	harness.WaitEnded(t, out, protocol.EndHangup) // the trunk's BYE
	sipp.RequireSuccess(t)
	require.Contains(t, sipp.Messages(), "Accept: application/dtmf-relay, application/dtmf")
}

// rtpTimeoutServer is a server with a short media.rtp_timeout and one
// trunk.
func rtpTimeoutServer(t *testing.T, sipp *harness.Sipp) *harness.Server {
	t.Helper()
	return harness.Start(t, func(c *config.Config) {
		c.Trunks = []config.Trunk{trunkTo("carrier", sipp, 0)}
		c.Media.RTPTimeout = 2 * time.Second
	})
}

// TestRTPTimeoutEndsCall: a trunk that answers and then sends no RTP is
// hung up after media.timeout (set here through its old name,
// media.rtp_timeout): BYE to the trunk, failed to the browser.
func TestRTPTimeoutEndsCall(t *testing.T) {
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_answer.xml"}) // no RTP at all
	s := rtpTimeoutServer(t, sipp)
	out := dial(t, s.Phone(t, s.Bob, 1000, ""), external)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	answered := time.Now()
	harness.WaitEnded(t, out, protocol.EndFailed)
	require.GreaterOrEqual(t, time.Since(answered), 1500*time.Millisecond)
	sipp.RequireSuccess(t) // it got the BYE
}

// TestRTPTimeoutSparesHold: a trunk that holds the call (sendonly) and
// sends no RTP for longer than media.rtp_timeout keeps the call.
func TestRTPTimeoutSparesHold(t *testing.T) {
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_hold_silent.xml"})
	s := rtpTimeoutServer(t, sipp)
	out := dial(t, s.Phone(t, s.Bob, 1000, ""), external)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	answered := time.Now()
	harness.Wait(t, out, protocol.TypeCallHeld)
	harness.WaitEnded(t, out, protocol.EndHangup)
	require.GreaterOrEqual(t, time.Since(answered), 4*time.Second, "the call ended before the trunk's BYE")
	sipp.RequireSuccess(t) // the trunk's BYE was answered: the call was still up
}

// TestBrowserHoldsDeskPhone: a browser holding a desk phone plays it music
// on hold in the same RTP stream: no re-INVITE or BYE reaches the phone,
// and after the resume it hears the browser again.
func TestBrowserHoldsDeskPhone(t *testing.T) {
	s := harness.Start(t, nil)
	desk, out := bobCallsDesk(t, s)
	desk.HeardTone(t, 1000)

	require.NoError(t, out.Hold())
	harness.Wait(t, out, protocol.TypeCallHeld)
	desk.HeardMusic(t, 1000)
	require.NotContains(t, desk.Output(), "re-INVITE")
	require.NotContains(t, desk.Output(), "closed")

	require.NoError(t, out.Resume())
	harness.Wait(t, out, protocol.TypeCallResumed)
	desk.HeardTone(t, 1000)
	harness.HearsTone(t, out, 440)
	require.NotContains(t, desk.Output(), "re-INVITE")
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
}
