package e2e

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
)

func heldBy(t *testing.T, m protocol.Message) protocol.HeldBy {
	t.Helper()
	return m.(*protocol.CallHeld).HeldBy
}

func TestHoldPlaysMusicAndResumes(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	out, in := harness.Connected(t, alice, bob, "102")
	harness.HearsTone(t, in, 440)

	// Bob did not hold: he cannot resume.
	harness.ExpectRefused(t, bob, in, &protocol.CallResume{CallID: in.ID}, protocol.CodeInvalidMessage)

	require.NoError(t, out.Hold())
	require.Equal(t, protocol.HeldLocal, heldBy(t, harness.Wait(t, out, protocol.TypeCallHeld)))
	require.Equal(t, protocol.HeldRemote, heldBy(t, harness.Wait(t, in, protocol.TypeCallHeld)))
	harness.HearsMusic(t, in, 440) // bob hears music, not alice's tone
	harness.HearsSilence(t, out)   // alice hears nothing from bob

	harness.ExpectRefused(t, alice, out, &protocol.CallHold{CallID: out.ID}, protocol.CodeInvalidMessage)
	harness.ExpectRefused(t, bob, in, &protocol.CallResume{CallID: in.ID}, protocol.CodeInvalidMessage)

	// Both may hold at once; one resuming leaves the other's hold in place.
	require.NoError(t, in.Hold())
	require.Equal(t, protocol.HeldLocal, heldBy(t, harness.Wait(t, in, protocol.TypeCallHeld)))
	require.Equal(t, protocol.HeldRemote, heldBy(t, harness.Wait(t, out, protocol.TypeCallHeld)))
	harness.HearsMusic(t, out, 1000)
	require.NoError(t, in.Resume())
	harness.Wait(t, in, protocol.TypeCallResumed)
	harness.Wait(t, out, protocol.TypeCallResumed)
	harness.HearsMusic(t, in, 440) // alice still holds

	// A long-ish hold, then resume: audio comes back both ways.
	time.Sleep(2 * time.Second) // the hold lasting is the point
	require.NoError(t, out.Resume())
	harness.Wait(t, out, protocol.TypeCallResumed)
	harness.Wait(t, in, protocol.TypeCallResumed)
	in.Detector().Reset()
	out.Detector().Reset()
	harness.HearsTone(t, in, 440)
	harness.HearsTone(t, out, 1000)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, in, protocol.EndHangup)
}

func TestHoldRefusedWhenNotActive(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 0, "")
	out := dial(t, alice, "102")
	in := harness.NextIncoming(t, bob)
	harness.Wait(t, out, protocol.TypeCallRinging)
	harness.ExpectRefused(t, alice, out, &protocol.CallHold{CallID: out.ID}, protocol.CodeInvalidMessage)
	harness.ExpectRefused(t, bob, in, &protocol.CallHold{CallID: in.ID}, protocol.CodeInvalidMessage)
	harness.ExpectRefused(t, alice, out, &protocol.CallResume{CallID: out.ID}, protocol.CodeInvalidMessage)
	// Nothing changed: the call still rings and can be answered.
	answer(t, in)
	harness.Wait(t, out, protocol.TypeCallAnswered)
}

func TestServerMute(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	out, in := harness.Connected(t, alice, bob, "102")
	harness.HearsTone(t, in, 440)

	require.NoError(t, out.Mute()) // alice keeps sending her tone
	harness.HearsSilence(t, in)
	harness.HearsTone(t, out, 1000) // bob is not muted
	require.NoError(t, out.Unmute())
	in.Detector().Reset()
	harness.HearsTone(t, in, 440)
}

func TestDTMFRelay(t *testing.T) {
	for _, calleeCodec := range []audio.Codec{audio.Opus, audio.PCMU} {
		t.Run(string(calleeCodec), func(t *testing.T) {
			s := harness.Start(t, nil)
			alice := s.Phone(t, s.Alice, 440, "")
			bob := s.Phone(t, s.Bob, 1000, calleeCodec)
			out, in := harness.Connected(t, alice, bob, "102")
			harness.HearsTone(t, in, 440)
			require.NoError(t, out.SendDTMF("123#*0"))
			harness.CheckFor(t, 10*time.Second, func() error {
				if got := string(in.DTMF()); got != "123#*0" {
					return strErr("bob got digits " + got)
				}
				return nil
			})
			require.NoError(t, in.SendDTMF("9"))
			harness.CheckFor(t, 10*time.Second, func() error {
				if got := string(out.DTMF()); got != "9" {
					return strErr("alice got digits " + got)
				}
				return nil
			})
			// Events are never played as audio: bob still hears only the tone.
			require.Less(t, in.Detector().Level(1000), 0.1)
		})
	}
}

func TestCallWaitingAndSwap(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	carol := s.Phone(t, s.Carol, 700, "")

	fromBob, toAlice := harness.Connected(t, bob, alice, "101")
	// Each of alice's calls gets its own source: one shared tone read by two
	// calls would reach each in alternating 20 ms pieces.
	toAlice.SetSource(audio.NewTone(440, softphone.SourceRate, 0.3))
	harness.HearsTone(t, fromBob, 440)
	// A second call rings while the first is active.
	fromCarol, err := carol.Call(harness.Ctx(t, 10*time.Second), "101")
	require.NoError(t, err)
	waiting := harness.NextIncoming(t, alice)
	require.Equal(t, "103", waiting.From)
	harness.Wait(t, fromCarol, protocol.TypeCallRinging)

	// Swap: hold the current call, answer the waiting one.
	require.NoError(t, toAlice.Hold())
	harness.Wait(t, toAlice, protocol.TypeCallHeld)
	waiting.SetSource(audio.NewTone(440, softphone.SourceRate, 0.3))
	answer(t, waiting)
	harness.Wait(t, fromCarol, protocol.TypeCallAnswered)
	harness.HearsTone(t, waiting, 700)
	harness.HearsTone(t, fromCarol, 440)
	harness.HearsMusic(t, fromBob, 440)

	for range 2 { // swap back and forth twice
		require.NoError(t, waiting.Hold())
		harness.Wait(t, waiting, protocol.TypeCallHeld)
		require.NoError(t, toAlice.Resume())
		harness.Wait(t, toAlice, protocol.TypeCallResumed)
		toAlice.Detector().Reset()
		fromBob.Detector().Reset()
		harness.HearsTone(t, toAlice, 1000)
		harness.HearsTone(t, fromBob, 440)
		harness.HearsMusic(t, fromCarol, 440)

		require.NoError(t, toAlice.Hold())
		harness.Wait(t, toAlice, protocol.TypeCallHeld)
		require.NoError(t, waiting.Resume())
		harness.Wait(t, waiting, protocol.TypeCallResumed)
		waiting.Detector().Reset()
		fromCarol.Detector().Reset()
		harness.HearsTone(t, waiting, 700)
		harness.HearsTone(t, fromCarol, 440)
		harness.HearsMusic(t, fromBob, 440)
	}
	// Events stay per call: the bob call saw no answer of carol's.
	for _, m := range toAlice.History() {
		if a, ok := m.(*protocol.CallAnswered); ok {
			require.Equal(t, toAlice.ID, a.CallID)
		}
	}
	require.NoError(t, fromBob.Hangup())
	harness.WaitEnded(t, toAlice, protocol.EndHangup)
	harness.HearsTone(t, fromCarol, 440) // the other call is untouched
}

func TestHoldMusicFromFile(t *testing.T) {
	wav := filepath.Join(t.TempDir(), "hold.wav")
	pcm := make([]int16, 16000)
	audio.NewTone(300, 16000, 0.4).Read(pcm)
	require.NoError(t, audio.WriteWAV(wav, pcm, 16000))
	s := harness.Start(t, func(c *config.Config) { c.Media.HoldMusic = wav })
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	out, in := harness.Connected(t, alice, bob, "102")
	require.NoError(t, out.Hold())
	harness.Wait(t, in, protocol.TypeCallHeld)
	in.Detector().Reset()
	harness.HearsTone(t, in, 300)
}
