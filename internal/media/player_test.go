package media

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
)

func TestPlayerPlaysUntilStopped(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dst := &fakeEndpoint{format: Format{Codec: audio.PCMU, PayloadType: 0, ClockRate: 8000}}
	pl := NewPlayer(dst, audio.NewRingback(bridgeRate), log)
	require.Eventually(t, func() bool { return len(dst.get()) >= 10 }, 2*time.Second, 10*time.Millisecond)
	pl.Stop()
	pl.Stop() // idempotent
	n := len(dst.get())
	time.Sleep(100 * time.Millisecond)
	require.Equal(t, n, len(dst.get()), "nothing is written after Stop")

	dec, _ := audio.NewDecoder(audio.PCMU, bridgeRate)
	det := audio.NewDetector(bridgeRate, 200*time.Millisecond)
	for _, pkt := range dst.get() {
		pcm, err := dec.Decode(pkt.Payload)
		require.NoError(t, err)
		det.Write(pcm)
	}
	require.Greater(t, det.Level(440), 0.05, "ringback carries 440 Hz")
}

// sinkEndpoint is a fakeEndpoint that keeps its sink, to feed it packets.
type sinkEndpoint struct {
	fakeEndpoint
	sink func(Packet)
}

func (s *sinkEndpoint) SetSink(fn func(Packet)) { s.sink = fn }

func TestEchoReturnsAudioAndDigits(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pcmu := Format{Codec: audio.PCMU, PayloadType: 0, ClockRate: 8000}
	ep := &sinkEndpoint{fakeEndpoint: fakeEndpoint{format: pcmu, te: true}}
	e := NewEcho(ep, log)
	require.NotNil(t, ep.sink)
	ep.sink(Packet{Format: pcmu, Timestamp: 0, Payload: []byte{1, 2, 3}})
	ep.sink(Packet{TelephoneEvent: true, Format: Format{PayloadType: 101, ClockRate: 8000}, Payload: []byte{5, 10, 0, 160}})
	require.Equal(t, []byte{1, 2, 3}, ep.get()[0].Payload, "audio comes back as sent")
	require.Len(t, ep.events, 1, "digits come back as events")
	e.Stop()
	require.Nil(t, ep.sink)
}
