package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// A clean call on loopback rates well on both legs, and after the call its
// record carries a quality summary per leg and its quality series.
func TestCallQualityOnLoopback(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, audio.Opus)
	bob := s.Phone(t, s.Bob, 1000, audio.PCMU)
	out := dial(t, alice, "102")
	in := harness.NextIncoming(t, bob)
	answer(t, in)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	harness.HearsTone(t, in, 440)
	harness.HearsTone(t, out, 1000)
	time.Sleep(12 * time.Second) // the call's length: at least two 5-s windows
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, in, protocol.EndHangup)
	harness.Wait(t, out, protocol.TypeCallEnded)
	for _, m := range append(out.History(), in.History()...) {
		require.NotEqual(t, protocol.TypeCallQuality, m.MessageType(), "clients that did not ask get no call.quality")
	}

	rec := record(t, s, out.ID)
	legs := rec["legs"].([]any)
	require.Len(t, legs, 2)
	codecOf := map[string]string{}
	for _, l := range legs {
		l := l.(map[string]any)
		codecOf[l["leg_id"].(string)] = l["codec"].(string)
		q, ok := l["quality"].(map[string]any)
		require.True(t, ok, "leg %s has a quality summary: %v", l["role"], l)
		require.GreaterOrEqual(t, q["samples"].(float64), 2.0)
		require.Greater(t, q["min_mos"].(float64), 4.0, "%s leg: %v", l["role"], q)
		require.GreaterOrEqual(t, q["avg_mos"].(float64), q["min_mos"].(float64))
		worst := q["worst_window"].(map[string]any)
		require.Equal(t, q["min_mos"], worst["mos"])
		t.Logf("%s leg (%s): avg MOS %v, min %v", l["role"], l["codec"], q["avg_mos"], q["min_mos"])
		floor := map[string]float64{"opus": 4.3, "pcmu": 4.1}[strings.ToLower(l["codec"].(string))]
		require.NotZero(t, floor, "codec %v", l["codec"])
		require.GreaterOrEqual(t, q["min_mos"].(float64), floor, "a clean %s leg", l["codec"])
	}

	r := s.Do(t, "GET", "/v1/calls/"+out.ID+"/quality", s.Token(t, s.Alice, time.Hour), nil)
	require.Equal(t, 200, r.Status, string(r.Raw))
	require.Equal(t, "call_quality", r.Body["object"])
	require.Equal(t, out.ID, r.Body["call_id"])
	series := r.Body["legs"].([]any)
	require.Len(t, series, 2)
	for _, l := range series {
		l := l.(map[string]any)
		codec, ok := codecOf[l["leg_id"].(string)]
		require.True(t, ok, "series of a leg of the record: %v", l["leg_id"])
		samples := l["samples"].([]any)
		require.GreaterOrEqual(t, len(samples), 2)
		for _, sm := range samples {
			sm := sm.(map[string]any)
			require.Greater(t, sm["mos"].(float64), 4.0, "%s: %v", codec, sm)
			require.Contains(t, sm, "at")
			require.Contains(t, sm, "loss_pct")
			require.Contains(t, sm, "jitter_ms")
		}
		// Both legs are WebRTC: the devices' receiver reports on the
		// server's sender reports give a round-trip time (loopback: tiny).
		last := samples[len(samples)-1].(map[string]any)
		rtt, ok := last["rtt_ms"].(float64)
		require.True(t, ok, "%s: a WebRTC leg's RTT is measured: %v", codec, last)
		require.Greater(t, rtt, 0.0)
		require.Less(t, rtt, 500.0, "loopback: a few ms, more on a busy machine; a unit slip is far more")
		t.Logf("%s leg: RTT %.2f ms", codec, rtt)
		// And the leg's other direction, from the device's reports on
		// what the server sent it: clean too.
		sent, ok := last["sent"].(map[string]any)
		require.True(t, ok, "%s: the sent direction is rated: %v", codec, last)
		require.GreaterOrEqual(t, sent["mos"].(float64), 4.1, "%s sent: %v", codec, sent)
		t.Logf("%s leg: sent direction MOS %v, loss %v%%, jitter %v ms", codec, sent["mos"], sent["loss_pct"], sent["jitter_ms"])
	}

	require.Equal(t, 200, s.Do(t, "GET", "/v1/calls/"+out.ID+"/quality", admin, nil).Status)
	require.Equal(t, 200, s.Do(t, "GET", "/v1/calls/"+out.ID+"/quality", s.Token(t, s.Bob, time.Hour), nil).Status)
	require.Equal(t, 404, s.Do(t, "GET", "/v1/calls/"+out.ID+"/quality", s.Token(t, s.Carol, time.Hour), nil).Status)
	require.Equal(t, 401, s.Do(t, "GET", "/v1/calls/"+out.ID+"/quality", "", nil).Status)
	require.Equal(t, 404, s.Do(t, "GET", "/v1/calls/call_nope/quality", admin, nil).Status)
}
