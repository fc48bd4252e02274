package media

import (
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/config"
)

// BenchmarkWebRTCRelay sends Opus frames from one WebRTC endpoint to
// another over loopback (SRTP, ICE, the whole pion stack on both sides)
// and reports the time per packet delivered, with the interceptors the
// server registers ("ours") and with pion's default set ("pion-default"),
// in the same run so the ratio holds on a noisy machine:
//
//	go test -run '^$' -bench WebRTCRelay -benchtime 20000x ./internal/media
func BenchmarkWebRTCRelay(b *testing.B) {
	for _, tc := range []struct {
		name string
		reg  func(*webrtc.MediaEngine, *interceptor.Registry) error
	}{
		{"ours", registerInterceptors},
		{"pion-default", webrtc.RegisterDefaultInterceptors},
	} {
		b.Run(tc.name, func(b *testing.B) { benchRelay(b, tc.reg) })
	}
}

func benchRelay(b *testing.B, reg func(*webrtc.MediaEngine, *interceptor.Registry) error) {
	cfg := config.Default().Media
	cfg.IncludeLoopback = true
	cfg.Timeout = 0
	e, err := newTunedEngine(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, reg)
	require.NoError(b, err)
	b.Cleanup(func() { _ = e.Close() })
	src, dst := pair(b, e)
	var got atomic.Int64
	dst.SetSink(func(Packet) { got.Add(1) })
	enc, err := audio.NewEncoder(audio.Opus, 8000)
	require.NoError(b, err)
	payload, err := enc.Encode(make([]int16, audio.FrameSamples(8000)))
	require.NoError(b, err)
	f := waitFormat(b, src)
	// Warm up until packets flow (DTLS done on both sides).
	for deadline := time.Now().Add(10 * time.Second); got.Load() == 0; {
		require.True(b, time.Now().Before(deadline), "no packet through")
		_ = src.WriteAudio(payload, f.Ticks())
		time.Sleep(5 * time.Millisecond)
	}
	b.ReportAllocs()
	b.ResetTimer()
	base := got.Load()
	for i := 0; i < b.N; i++ {
		_ = src.WriteAudio(payload, f.Ticks())
		// Stay at most 64 packets ahead of the receiver, as a paced
		// sender would: a socket buffer overrun measures nothing.
		for int64(i)-(got.Load()-base) > 64 {
			time.Sleep(50 * time.Microsecond)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); got.Load()-base < int64(b.N) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(got.Load()-base)/float64(b.N)*100, "%delivered")
}

// waitFormat waits for the endpoint's negotiated send format.
func waitFormat(b *testing.B, ep *WebRTCEndpoint) Format {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if f, ok := ep.SendFormat(); ok {
			return f
		}
	}
	b.Fatal("no send format")
	return Format{}
}
