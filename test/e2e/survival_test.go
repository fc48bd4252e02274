package e2e

import (
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/test/harness"
)

func TestCallSurvivesDroppedSocket(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	out, in := harness.Connected(t, alice, bob, "102")
	harness.HearsTone(t, in, 440)
	sessionID := bob.SessionID()

	bob.DropConnection()
	// Media does not ride on the socket: for 5 s both keep hearing each other.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		in.Detector().Reset()
		out.Detector().Reset()
		harness.HearsTone(t, in, 440)
		harness.HearsTone(t, out, 1000)
	}
	// Meanwhile alice holds: bob misses call.held while away.
	require.NoError(t, out.Hold())
	harness.Wait(t, out, protocol.TypeCallHeld)

	require.NoError(t, bob.Reconnect(harness.Ctx(t, 10*time.Second)))
	require.True(t, bob.Reconnected())
	require.Equal(t, sessionID, bob.SessionID())
	r := harness.Wait(t, in, protocol.TypeCallRestored).(*protocol.CallRestored)
	require.Equal(t, in.ID, r.CallID)
	require.Equal(t, protocol.StateHeld, r.State)
	require.Equal(t, protocol.HeldRemote, r.HeldBy)
	require.Equal(t, protocol.DirectionInbound, r.Direction)
	require.Equal(t, "101", r.From)
	require.NotNil(t, r.AnsweredAt)
	harness.HearsMusic(t, in, 440)

	// Control works on the resumed socket.
	require.NoError(t, out.Resume())
	harness.Wait(t, in, protocol.TypeCallResumed)
	require.NoError(t, in.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	harness.WaitEnded(t, in, protocol.EndHangup)
}

func TestEndedWhileAwayIsReplayed(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	out, in := harness.Connected(t, alice, bob, "102")
	bob.DropConnection()
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	require.NoError(t, bob.Reconnect(harness.Ctx(t, 10*time.Second)))
	require.True(t, bob.Reconnected())
	harness.WaitEnded(t, in, protocol.EndHangup)
}

func TestRestoreIsPerUser(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	harness.Connected(t, alice, bob, "102")
	bob.DropConnection()
	// Carol presenting bob's session id gets a fresh session and no calls.
	w, _, err := s.Dial(t)
	require.NoError(t, err)
	w.Send(map[string]any{"type": "authenticate", "token": s.Token(t, s.Carol, time.Hour), "session_id": bob.SessionID()})
	a := w.Read().(*protocol.Authenticated)
	require.False(t, a.Reconnected)
	_, err = w.ReadTimeout(500 * time.Millisecond)
	require.ErrorIs(t, err, harness.ErrNoFrame, "no call.restored for another user")
}

func TestCallEndsAfterGrace(t *testing.T) {
	s := harness.Start(t, func(c *config.Config) { c.Signal.ReconnectGrace = time.Second })
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	out, in := harness.Connected(t, alice, bob, "102")
	bob.DropConnection()
	harness.WaitEnded(t, out, protocol.EndHangup)
	// Past the grace period the session is gone: a reconnect is fresh and
	// the phone treats its calls as over.
	require.NoError(t, bob.Reconnect(harness.Ctx(t, 10*time.Second)))
	require.False(t, bob.Reconnected())
	harness.WaitEnded(t, in, protocol.EndHangup)
}

func TestICERestartOnLiveCall(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	out, in := harness.Connected(t, alice, bob, "102")
	// A network change: the device restarts ICE with a new offer.
	pc := out.PeerConnection()
	offer, err := pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	require.NoError(t, err)
	gathered := webrtc.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(offer))
	<-gathered
	require.NoError(t, alice.Send(&protocol.SDPOffer{CallID: out.ID, SDP: pc.LocalDescription().SDP}))
	a := harness.Wait(t, out, protocol.TypeSDPAnswer).(*protocol.SDPAnswer)
	require.Contains(t, a.SDP, "a=candidate:")
	in.Detector().Reset()
	harness.HearsTone(t, in, 440)
}
