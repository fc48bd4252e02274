package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/recording"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// levelBlock is the stretch of a recording levelsOf measures at a time.
const levelBlock = 100 * time.Millisecond

// levelsOf measures each tone's level in channel ch over [from, to): the
// median of its levels in the 100-ms blocks that are not silent, so a
// hiccup of a loaded machine (a late frame the writer filled with
// silence) does not hide what the channel carries. It fails the test
// when fewer than five blocks carry sound.
func levelsOf(t *testing.T, a *recording.Audio, ch int, from, to time.Duration, freqs ...float64) []float64 {
	t.Helper()
	at := func(d time.Duration) int { return min(len(a.Channels[ch]), int(d.Seconds()*float64(a.Rate))) }
	per := make([][]float64, len(freqs))
	for b := from; b+levelBlock <= to; b += levelBlock {
		pcm := a.Channels[ch][at(b):at(b+levelBlock)]
		if quiet(pcm) {
			continue
		}
		d := audio.NewDetector(a.Rate, levelBlock)
		d.Write(pcm)
		for i, f := range freqs {
			per[i] = append(per[i], d.Level(f))
		}
	}
	require.GreaterOrEqual(t, len(per[0]), 5, "channel %d carries sound in [%v, %v)", ch+1, from, to)
	out := make([]float64, len(freqs))
	for i := range per {
		slices.Sort(per[i])
		out[i] = per[i][len(per[i])/2]
	}
	return out
}

// quiet reports whether pcm is (nearly) digital silence.
func quiet(pcm []int16) bool {
	for _, s := range pcm {
		if s > 64 || s < -64 {
			return false
		}
	}
	return true
}

// recordingStates lists the states of the call.recording frames c got.
func recordingStates(c *softphone.Call) []protocol.RecordingState {
	var out []protocol.RecordingState
	for _, m := range c.History() {
		if r, ok := m.(*protocol.CallRecording); ok {
			out = append(out, r.State)
		}
	}
	return out
}

// recordedAudio downloads and decodes a finished recording.
func recordedAudio(t *testing.T, s *harness.Server, id string) *recording.Audio {
	t.Helper()
	r := s.Do(t, "GET", "/v1/recordings/"+id+"/download-url", admin, nil)
	require.Equal(t, 200, r.Status, string(r.Raw))
	status, body := download(t, s.URL()+r.Body["url"].(string))
	require.Equal(t, 200, status)
	a, err := recording.Decode(body)
	require.NoError(t, err)
	require.Len(t, a.Channels, 2)
	return a
}

// TestRecordingConference: alice (440 Hz, Opus) calls bob (1000 Hz,
// PCMU) and records; she holds, calls carol (700 Hz, PCMU) and merges:
// the recording goes on (nobody hears it stop; carol hears that it runs),
// channel 1 still alice, channel 2 now bob and carol together. Stopped
// and started again on the conference, a second recording holds the
// same.
func TestRecordingConference(t *testing.T) {
	const aliceHz, bobHz, carolHz = 440.0, 1000.0, 700.0
	s := harness.Start(t, nil)
	alice := recPhone(t, s, s.Alice, aliceHz, audio.Opus)
	bob := recPhone(t, s, s.Bob, bobHz, audio.PCMU)
	carol := recPhone(t, s, s.Carol, carolHz, audio.PCMU)
	host, in := harness.Connected(t, alice, bob, "102")
	harness.HearsTone(t, in, aliceHz)
	harness.HearsTone(t, host, bobHz)

	require.NoError(t, host.Record(protocol.RecordStart, "r1"))
	first := waitRecording(t, host, protocol.RecordingActive)
	recStart := time.Now()
	waitRecording(t, in, protocol.RecordingActive)
	harness.HearsFor(t, host, 1500*time.Millisecond)
	held := time.Since(recStart)
	require.NoError(t, host.Hold())
	harness.Wait(t, host, protocol.TypeCallHeld)

	toCarol, carolIn := harness.Connected(t, alice, carol, "103")
	require.NoError(t, host.Merge(toCarol))
	harness.WaitEnded(t, toCarol, protocol.EndMerged)
	harness.Wait(t, host, protocol.TypeCallResumed)
	harness.Wait(t, host, protocol.TypeConferenceUpdated)
	merged := time.Since(recStart)
	told := waitRecording(t, carolIn, protocol.RecordingActive)
	require.Equal(t, first.RecordingID, told.RecordingID, "carol hears of the conference's recording")
	require.Empty(t, told.ReqID)
	harness.Wait(t, in, protocol.TypeCallResumed) // bob's hold ends with the merge
	// What came before those frames was skipped into the history: no
	// call.recording (the old behaviour sent "stopped" here).
	for _, c := range []*softphone.Call{host, in, carolIn} {
		require.Empty(t, recordingStates(c), "call %s: the recording goes on through the merge", c.ID)
	}
	harness.HearsMix(t, in, []float64{aliceHz, carolHz}, []float64{bobHz})
	harness.HearsFor(t, host, 2*time.Second)
	// What the tap records on channel 2 is what alice hears: the mix of
	// bob and carol is flowing to her when the recording stops.
	harness.HearsMix(t, host, []float64{bobHz, carolHz}, []float64{aliceHz})

	// Stopped and started again on the conference: every participant hears it.
	require.NoError(t, host.Record(protocol.RecordStop, "r2"))
	require.Equal(t, "r2", waitRecording(t, host, protocol.RecordingStopped).ReqID)
	waitRecording(t, in, protocol.RecordingStopped)
	waitRecording(t, carolIn, protocol.RecordingStopped)
	require.NoError(t, carolIn.Record(protocol.RecordStart, "r3"))
	second := waitRecording(t, carolIn, protocol.RecordingActive)
	require.Equal(t, "r3", second.ReqID, "call.record on a conference is accepted")
	waitRecording(t, host, protocol.RecordingActive)
	waitRecording(t, in, protocol.RecordingActive)
	harness.HearsFor(t, host, 2*time.Second)
	require.NoError(t, host.Hangup())
	harness.WaitEnded(t, host, protocol.EndHangup)
	require.NoError(t, in.Hangup())
	harness.WaitEnded(t, carolIn, protocol.EndHangup)

	recs := finishedRecordings(t, func(p string) harness.Response { return s.Do(t, "GET", p, admin, nil) }, host.ID, 2)
	byID := map[string]recordingView{}
	for _, r := range recs {
		byID[r.ID] = r
	}
	require.Contains(t, byID, first.RecordingID)
	require.Contains(t, byID, second.RecordingID)
	margin := 400 * time.Millisecond
	ms := func(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
	spans := []struct {
		rec      string
		name     string
		from, to time.Duration
		ch2      []float64 // tones heard on channel 2
	}{
		{first.RecordingID, "before the hold", margin, held - margin, []float64{bobHz}},
		// Under load the mix reaches the recording a moment after the
		// merge the test's clock saw: levelsOf skips that silence.
		{first.RecordingID, "conference", merged + margin, ms(byID[first.RecordingID].DurationMS) - margin, []float64{bobHz, carolHz}},
		{second.RecordingID, "conference, second recording", margin, ms(byID[second.RecordingID].DurationMS) - margin, []float64{bobHz, carolHz}},
	}
	for _, sp := range spans {
		a := recordedAudio(t, s, sp.rec)
		ch1 := levelsOf(t, a, 0, sp.from, sp.to, aliceHz, bobHz, carolHz)
		ch2 := levelsOf(t, a, 1, sp.from, sp.to, aliceHz, bobHz, carolHz)
		t.Logf("%s [%v, %v]: channel 1 levels %.2f, channel 2 %.2f (440/1000/700 Hz)", sp.name, sp.from, sp.to, ch1, ch2)
		require.Greater(t, ch1[0], 0.5, "%s: channel 1 is alice", sp.name)
		require.Less(t, ch1[1]+ch1[2], 0.05, "%s: channel 1 is alice alone", sp.name)
		require.Less(t, ch2[0], 0.03, "%s: channel 2 is not alice", sp.name)
		for i, f := range []float64{bobHz, carolHz} {
			if contains(sp.ch2, f) {
				require.Greater(t, ch2[i+1], 0.15, "%s: channel 2 carries %v Hz", sp.name, f)
			} else {
				require.Less(t, ch2[i+1], 0.03, "%s: channel 2 has no %v Hz", sp.name, f)
			}
		}
	}
}

func contains(fs []float64, f float64) bool {
	for _, x := range fs {
		if x == f {
			return true
		}
	}
	return false
}
