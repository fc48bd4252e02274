package media

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
)

// The tap hears each direction's decoded audio, marked by its talker;
// a muted direction taps nothing; a beep replaces forwarded audio for a
// moment.
func TestBridgeTapAndBeep(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pcmu := Format{Codec: audio.PCMU, PayloadType: 0, ClockRate: 8000}
	a, b := &lockedEndpoint{fakeEndpoint: fakeEndpoint{format: pcmu}}, &lockedEndpoint{fakeEndpoint: fakeEndpoint{format: pcmu}}
	br := NewBridge(a, b, nil, log)
	defer br.Stop()
	var mu sync.Mutex
	got := map[bool]*audio.Detector{true: audio.NewDetector(TapRate, time.Second), false: audio.NewDetector(TapRate, time.Second)}
	br.SetTap(func(fromA bool, pcm []int16) {
		mu.Lock()
		defer mu.Unlock()
		got[fromA].Write(pcm)
	})
	send := func(p *pipe, freq float64, frames int) {
		enc, _ := audio.NewEncoder(audio.PCMU, 8000)
		tone := audio.NewTone(freq, 8000, 0.3)
		pcm := make([]int16, 160)
		for i := range frames {
			tone.Read(pcm)
			payload, _ := enc.Encode(pcm)
			p.handle(Packet{Format: pcmu, Payload: payload, Timestamp: uint32(i * 160)})
		}
	}
	send(br.ab, 440, 50)
	send(br.ba, 1000, 50)
	require.InDelta(t, 440, got[true].Dominant(200, 3000), 5)
	require.InDelta(t, 1000, got[false].Dominant(200, 3000), 5)

	br.SetModes(Forward, Silence) // A muted: B hears silence, nothing tapped from A
	n := got[true].Samples()
	send(br.ab, 440, 10)
	require.Equal(t, n, got[true].Samples())
	br.SetModes(Forward, Forward)

	before := b.count()
	br.Beep()
	send(br.ab, 440, 5) // while beeping, A's audio is not forwarded (only the beep)
	require.Eventually(t, func() bool { return !br.ab.beeping.Load() }, 2*time.Second, 10*time.Millisecond)
	frames := b.count() - before
	require.InDelta(t, int(BeepDuration/audio.FrameDuration), frames, 2, "B got the beep's frames only")
	br.SetTap(nil)
	n = got[true].Samples()
	send(br.ab, 440, 5)
	require.Equal(t, n, got[true].Samples())
}

// An announcement stops when its direction stops forwarding (a hold's
// music or a mute's silence takes over, with no second writer).
func TestBridgeAnnounceStopsOnHold(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pcmu := Format{Codec: audio.PCMU, PayloadType: 0, ClockRate: 8000}
	a, b := &lockedEndpoint{fakeEndpoint: fakeEndpoint{format: pcmu}}, &lockedEndpoint{fakeEndpoint: fakeEndpoint{format: pcmu}}
	br := NewBridge(a, b, nil, log)
	defer br.Stop()
	br.Announce(make([]int16, 10*TapRate))
	require.True(t, br.ab.beeping.Load())
	br.SetModes(Silence, Silence)
	require.Eventually(t, func() bool { return !br.ab.beeping.Load() && !br.ba.beeping.Load() },
		time.Second, 10*time.Millisecond)
}

// BenchmarkTapOpus is the recording's cost per direction and 20 ms Opus
// frame: the tap's decode to 8 kHz (what a recorded call adds to the
// bridge).
func BenchmarkTapOpus(b *testing.B) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opus := Format{Codec: audio.Opus, PayloadType: 111, ClockRate: 48000}
	a, c := &fakeEndpoint{format: opus}, &fakeEndpoint{format: opus}
	br := NewBridge(a, c, nil, log)
	defer br.Stop()
	enc, err := audio.NewEncoder(audio.Opus, 48000)
	require.NoError(b, err)
	pcm := make([]int16, 960)
	audio.NewTone(440, 48000, 0.3).Read(pcm)
	payload, err := enc.Encode(pcm)
	require.NoError(b, err)
	var n int
	br.SetTap(func(_ bool, pcm []int16) { n += len(pcm) })
	p := &pipe{dst: c, encOpts: audio.DefaultEncoderOptions(), log: log}
	p.tap.fn.Store(br.ab.tap.fn.Load())
	b.ResetTimer()
	for i := range b.N {
		p.feedTap(Packet{Format: opus, Payload: payload, Timestamp: uint32(i * 960)})
	}
	b.ReportMetric(float64(n)/float64(b.N), "samples/op")
}
