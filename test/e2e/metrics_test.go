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

func TestMetricsCountCalls(t *testing.T) {
	s := harness.Start(t, nil)
	require.Equal(t, 401, s.Do(t, "GET", "/metrics", "", nil).Status)
	require.Equal(t, 401, s.Do(t, "GET", "/debug/pprof/", "", nil).Status)
	require.Equal(t, 401, s.Do(t, "GET", "/metrics", s.Token(t, s.Alice, time.Hour), nil).Status, "a user token is not the admin key")
	require.Equal(t, 200, s.Do(t, "GET", "/debug/pprof/", harness.AdminKey, nil).Status)

	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	out, in := harness.Connected(t, alice, bob, "102")
	require.Equal(t, float64(1), metricValue(t, s, "switchboard_calls_active"))
	require.Equal(t, float64(2), metricValue(t, s, "switchboard_sockets_connected"))
	harness.HearsTone(t, in, 440)
	harness.HearsTone(t, out, 1000)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, in, protocol.EndHangup)
	harness.CheckFor(t, 5*time.Second, func() error {
		if v, _ := metricLookup(t, s, `switchboard_calls_ended_total{direction="internal",reason="hangup"}`); v != 1 {
			return strErr("the call's end is not counted yet")
		}
		return nil
	})
	require.Equal(t, float64(1), metricValue(t, s, `switchboard_calls_started_total{direction="internal"}`))
	require.Equal(t, float64(1), metricValue(t, s, `switchboard_calls_answered_total{direction="internal"}`))
	require.Equal(t, float64(1), metricValue(t, s, `switchboard_call_setup_seconds_count{direction="internal"}`))
	require.Equal(t, float64(1), metricValue(t, s, `switchboard_store_seconds_count{op="create_call_record"}`))
	require.Equal(t, float64(2), metricValue(t, s, `switchboard_leg_loss_ratio_count{kind="webrtc"}`), "both legs' media counted")
	received, ok := metricLookup(t, s, `switchboard_media_packets_received_total{kind="webrtc"}`)
	require.True(t, ok)
	require.Greater(t, received, float64(10))
	bytes, ok := metricLookup(t, s, `switchboard_media_bytes_received_total{kind="webrtc"}`)
	require.True(t, ok)
	require.Greater(t, bytes, received, "payloads are more than a byte each")
	body := string(s.Do(t, "GET", "/metrics", harness.AdminKey, nil).Raw)
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "switchboard_sip_registrations",
		"switchboard_draining 0", "switchboard_sip_junk_datagrams_total"} {
		require.True(t, strings.Contains(body, name), name)
	}
}

func TestMetricsCountTranscodingCalls(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, audio.Opus)
	bob := s.Phone(t, s.Bob, 1000, audio.PCMU)
	out, in := harness.Connected(t, alice, bob, "102")
	harness.HearsTone(t, in, 440)
	require.Equal(t, float64(1), metricValue(t, s, "switchboard_transcoding_bridges"))
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, in, protocol.EndHangup)
	harness.CheckFor(t, 5*time.Second, func() error {
		if metricValue(t, s, "switchboard_transcoding_bridges") != 0 {
			return strErr("the ended call's bridge is still counted")
		}
		return nil
	})
}
