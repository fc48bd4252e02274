package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// TestRecordingRestored: bob records his call, his socket drops, alice
// pauses the recording meanwhile (bob, away, misses that call.recording);
// resumed with his session_id, bob's call.restored says the call is
// recorded and paused. Once alice stops it, a call.restored after the
// next drop has no recording. A client that did not ask for the
// "recording" feature never sees the field.
func TestRecordingRestored(t *testing.T) {
	s := harness.Start(t, nil)
	alice := recPhone(t, s, s.Alice, 440, audio.Opus)
	bob := recPhone(t, s, s.Bob, 1000, audio.Opus)
	out, in := harness.Connected(t, alice, bob, "102")
	require.NoError(t, in.Record(protocol.RecordStart, "r1"))
	started := waitRecording(t, in, protocol.RecordingActive)
	waitRecording(t, out, protocol.RecordingActive)

	restore := func() *protocol.CallRestored {
		t.Helper()
		require.NoError(t, bob.Reconnect(harness.Ctx(t, 10*time.Second)))
		require.True(t, bob.Reconnected())
		r := harness.Wait(t, in, protocol.TypeCallRestored).(*protocol.CallRestored)
		require.Equal(t, in.ID, r.CallID)
		require.Equal(t, protocol.StateActive, r.State)
		return r
	}

	bob.DropConnection()
	require.NoError(t, out.Record(protocol.RecordPause, "r2"))
	waitRecording(t, out, protocol.RecordingPaused)
	r := restore()
	require.Equal(t, &protocol.RecordingInfo{RecordingID: started.RecordingID, State: protocol.RecordingPaused}, r.Recording)
	harness.HearsTone(t, in, 440)

	require.NoError(t, in.Record(protocol.RecordResume, "r3"))
	waitRecording(t, in, protocol.RecordingActive)
	waitRecording(t, out, protocol.RecordingActive)
	bob.DropConnection()
	r = restore()
	require.Equal(t, &protocol.RecordingInfo{RecordingID: started.RecordingID, State: protocol.RecordingActive}, r.Recording)

	require.NoError(t, out.Record(protocol.RecordStop, "r4"))
	waitRecording(t, out, protocol.RecordingStopped)
	waitRecording(t, in, protocol.RecordingStopped)
	bob.DropConnection()
	require.Nil(t, restore().Recording, "a stopped recording is none")

	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, in, protocol.EndHangup)

	// Carol's client asked for no "recording" feature: her restored call
	// carries no recording, as she gets no call.recording notices.
	carol := s.Phone(t, s.Carol, 700, "")
	out, in = harness.Connected(t, alice, carol, "103")
	require.NoError(t, out.Record(protocol.RecordStart, "r5"))
	waitRecording(t, out, protocol.RecordingActive)
	carol.DropConnection()
	require.NoError(t, carol.Reconnect(harness.Ctx(t, 10*time.Second)))
	r = harness.Wait(t, in, protocol.TypeCallRestored).(*protocol.CallRestored)
	require.Nil(t, r.Recording)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, in, protocol.EndHangup)
}

// TestClusterRecordingRestored: alice (n1) records her call to bob (n2;
// the call's owner is n1), her socket drops and she resumes her session
// on n2: the call.restored that n1 relays to n2 says the call is recorded.
func TestClusterRecordingRestored(t *testing.T) {
	nodes := startCluster(t, 2)
	n1, n2 := nodes[0], nodes[1]
	alice, err := processPhoneWith(t, n1, "101", 440, protocol.FeatureRecording)
	require.NoError(t, err)
	bob, err := processPhone(t, n2, "102", 1000)
	require.NoError(t, err)
	waitLocated(t, n1, userID(t, n1, "102"), "n2")
	out, _ := harness.Connected(t, alice, bob, "102")
	require.Equal(t, "n1", ownerOf(out.ID))
	require.NoError(t, out.Record(protocol.RecordStart, "r1"))
	started := waitRecording(t, out, protocol.RecordingActive)
	require.NoError(t, out.Record(protocol.RecordPause, "r2"))
	waitRecording(t, out, protocol.RecordingPaused)

	alice.DropConnection()
	require.NoError(t, alice.ReconnectTo(harness.Ctx(t, 10*time.Second), n2.WebSocketURL()))
	require.True(t, alice.Reconnected())
	r := harness.Wait(t, out, protocol.TypeCallRestored).(*protocol.CallRestored)
	require.Equal(t, protocol.StateActive, r.State)
	require.Equal(t, &protocol.RecordingInfo{RecordingID: started.RecordingID, State: protocol.RecordingPaused}, r.Recording)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
}
