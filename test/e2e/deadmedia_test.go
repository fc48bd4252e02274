package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// deadMediaTimeout is media.timeout in these tests: long enough for
// pion's once-a-second RTCP reports to keep a held leg alive.
const deadMediaTimeout = 2 * time.Second

// deadMediaSlack is how late after the timeout the call may end: the
// watchdog polls every timeout/4, then the actor ends the call.
const deadMediaSlack = 3 * time.Second

func deadMediaServer(t *testing.T) *harness.Server {
	t.Helper()
	return harness.Start(t, func(c *config.Config) { c.Media.Timeout = deadMediaTimeout })
}

// endsFailed waits for call.ended {reason: failed} on c and checks that
// it came after the timeout (not before: media was alive until since)
// and within the slack.
func endsFailed(t *testing.T, c *softphone.Call, since time.Time) {
	t.Helper()
	e := harness.Wait(t, c, protocol.TypeCallEnded).(*protocol.CallEnded)
	took := time.Since(since)
	require.Equal(t, protocol.EndFailed, e.Reason, "call %s", c.ID)
	require.GreaterOrEqual(t, took, deadMediaTimeout-100*time.Millisecond, "ended before media.timeout")
	require.LessOrEqual(t, took, deadMediaTimeout+deadMediaSlack, "ended long after media.timeout")
}

// TestDeadMediaEndsCall: the callee's media dies (its PeerConnection
// closes) while its socket stays open; the caller hears call.ended
// failed within media.timeout, and so does the callee's socket.
func TestDeadMediaEndsCall(t *testing.T) {
	s := deadMediaServer(t)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	out, in := harness.Connected(t, alice, bob, "102")
	harness.HearsTone(t, out, 1000)
	harness.HearsTone(t, in, 440)

	require.NoError(t, in.PeerConnection().Close())
	killed := time.Now()
	endsFailed(t, out, killed)
	harness.WaitEnded(t, in, protocol.EndFailed) // the socket is still open: it is told too
	noCallsLeft(t, s)
	require.Equal(t, "failed", record(t, s, out.ID)["end_reason"])
}

// TestDeadMediaSparesHold: a held call where neither side sends audio
// stays up well past media.timeout: RTCP still flows both ways.
func TestDeadMediaSparesHold(t *testing.T) {
	s := deadMediaServer(t)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	out, in := harness.Connected(t, alice, bob, "102")
	require.NoError(t, out.Hold())
	harness.Wait(t, out, protocol.TypeCallHeld)
	harness.Wait(t, in, protocol.TypeCallHeld)
	out.SetSending(false)
	in.SetSending(false)

	// Bob hears music on hold for three timeouts: the call lives on.
	harness.HearsFor(t, in, 3*deadMediaTimeout)
	require.Equal(t, 1, s.Calls.Count())
	_, ended := out.EndReason()
	require.False(t, ended, "the held call ended")

	// Resumed, it is an ordinary call again.
	require.NoError(t, out.Resume())
	harness.Wait(t, in, protocol.TypeCallResumed)
	out.SetSending(true)
	in.SetSending(true)
	harness.HearsTone(t, out, 1000)
	hangUp(t, out)
	noCallsLeft(t, s)
}

// TestDeadMediaEndsEcho: a *43 echo test whose media never comes up (the
// device's PeerConnection is gone before ICE could connect) ends failed
// after media.timeout, not "answered" forever.
func TestDeadMediaEndsEcho(t *testing.T) {
	s := deadMediaServer(t)
	alice := s.Phone(t, s.Alice, 440, "")
	out, err := alice.Call(harness.Ctx(t, 10*time.Second), "*43", softphone.WithTrickle())
	require.NoError(t, err)
	require.NoError(t, out.PeerConnection().Close())
	harness.Wait(t, out, protocol.TypeCallAnswered)
	answered := time.Now()
	endsFailed(t, out, answered.Add(-500*time.Millisecond)) // the watch starts just before call.answered arrives
	noCallsLeft(t, s)
	rec := record(t, s, out.ID)
	require.Equal(t, "failed", rec["end_reason"])
	require.Equal(t, "echo", rec["answered_by"])
}
