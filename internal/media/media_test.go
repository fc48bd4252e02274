package media

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func newEngine(t *testing.T) *Engine {
	cfg := config.Default().Media
	cfg.IncludeLoopback = true
	e, err := NewEngine(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// pair negotiates two server endpoints with each other.
func pair(t testing.TB, e *Engine) (*WebRTCEndpoint, *WebRTCEndpoint) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := e.NewWebRTC("a")
	require.NoError(t, err)
	b, err := e.NewWebRTC("b")
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	offer, err := a.CreateOffer(ctx)
	require.NoError(t, err)
	require.Contains(t, offer, "a=candidate:", "candidates are embedded")
	answer, err := b.AnswerOffer(ctx, offer)
	require.NoError(t, err)
	require.Contains(t, answer, "a=candidate:")
	require.NoError(t, a.SetAnswer(answer))
	return a, b
}

type collector struct {
	mu   sync.Mutex
	pkts []Packet
}

func (c *collector) add(p Packet) {
	p.Payload = slices.Clone(p.Payload) // the endpoint reuses its buffer
	c.mu.Lock()
	c.pkts = append(c.pkts, p)
	c.mu.Unlock()
}

func (c *collector) get() []Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Packet(nil), c.pkts...)
}

func TestEndpointsCarryAudio(t *testing.T) {
	e := newEngine(t)
	a, b := pair(t, e)
	var got collector
	b.SetSink(got.add)
	enc, err := audio.NewEncoder(audio.Opus, 8000)
	require.NoError(t, err)
	tone := audio.NewTone(440, 8000, 0.3)
	pcm := make([]int16, audio.FrameSamples(8000))
	deadline := time.Now().Add(10 * time.Second)
	for len(got.get()) < 20 && time.Now().Before(deadline) {
		f, ok := a.SendFormat()
		if ok {
			tone.Read(pcm)
			payload, err := enc.Encode(pcm)
			require.NoError(t, err)
			require.NoError(t, a.WriteAudio(payload, f.Ticks()))
		}
		time.Sleep(audio.FrameDuration)
	}
	pkts := got.get()
	require.GreaterOrEqual(t, len(pkts), 20)
	// Sequence numbers and timestamps advance by one frame per packet.
	for i := 1; i < len(pkts); i++ {
		require.Equal(t, pkts[i-1].Seq+1, pkts[i].Seq)
		require.Equal(t, pkts[i-1].Timestamp+960, pkts[i].Timestamp)
		require.Equal(t, audio.Opus, pkts[i].Format.Codec)
	}
	require.Equal(t, "opus", a.Stats().Codec)
	require.Greater(t, b.Stats().PacketsReceived, uint64(19))
	require.GreaterOrEqual(t, a.Stats().PacketsSent, uint64(20))
}

func TestBadSDP(t *testing.T) {
	e := newEngine(t)
	w, err := e.NewWebRTC("x")
	require.NoError(t, err)
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, sdp := range []string{"", "garbage", "v=0\r\n", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"} {
		_, err := w.AnswerOffer(ctx, sdp)
		require.Error(t, err, "%q", sdp)
	}
	require.NoError(t, w.Close())
	require.NoError(t, w.Close(), "Close is idempotent")
}

// fakeEndpoint records what a pipe writes.
type fakeEndpoint struct {
	format Format
	collector
	ticks  []uint32
	te     bool
	evMu   sync.Mutex // guards events and keys while a sender runs
	events [][]byte
	keys   []uint32
}

func (f *fakeEndpoint) SetSink(func(Packet))       {}
func (f *fakeEndpoint) SendFormat() (Format, bool) { return f.format, true }
func (f *fakeEndpoint) WriteAudio(p []byte, ticks uint32) error {
	f.add(Packet{Payload: append([]byte(nil), p...)})
	f.ticks = append(f.ticks, ticks)
	return nil
}
func (f *fakeEndpoint) Stats() Stats { return Stats{} }
func (f *fakeEndpoint) EventFormat() (Format, bool) {
	return Format{PayloadType: 101, ClockRate: 8000}, f.te
}
func (f *fakeEndpoint) WriteEvent(p []byte, key uint32) error {
	f.evMu.Lock()
	defer f.evMu.Unlock()
	f.events = append(f.events, append([]byte(nil), p...))
	f.keys = append(f.keys, key)
	return nil
}

// ends counts the event packets written with the end bit set.
func (f *fakeEndpoint) ends() int {
	f.evMu.Lock()
	defer f.evMu.Unlock()
	n := 0
	for _, p := range f.events {
		if p[1]&0x80 != 0 {
			n++
		}
	}
	return n
}
func (f *fakeEndpoint) Close() error { return nil }

func TestPipeTranscodesAndPasses(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opus := Format{Codec: audio.Opus, PayloadType: 111, ClockRate: 48000}
	pcmu := Format{Codec: audio.PCMU, PayloadType: 0, ClockRate: 8000}

	// PCMU in, Opus out: decoded and re-encoded, a 440 Hz tone survives.
	dst := &fakeEndpoint{format: opus}
	p := newPipe(dst, nil, audio.DefaultEncoderOptions(), log)
	enc, _ := audio.NewEncoder(audio.PCMU, 8000)
	tone := audio.NewTone(440, 8000, 0.3)
	pcm := make([]int16, 160)
	for i := 0; i < 50; i++ {
		tone.Read(pcm)
		payload, _ := enc.Encode(pcm)
		p.handle(Packet{Format: pcmu, Seq: uint16(i), Timestamp: uint32(i * 160), Payload: payload})
	}
	p.handle(Packet{TelephoneEvent: true, Format: Format{PayloadType: 101, ClockRate: 8000}, Payload: []byte{1, 0, 0, 160}})
	out := dst.get()
	require.Len(t, out, 50, "telephone-events are never forwarded as audio")
	dec, _ := audio.NewDecoder(audio.Opus, 8000)
	det := audio.NewDetector(8000, 500*time.Millisecond)
	for _, pkt := range out {
		pcm, err := dec.Decode(pkt.Payload)
		require.NoError(t, err)
		det.Write(pcm)
	}
	require.Greater(t, det.Level(440), 0.5)
	require.Equal(t, uint32(960), dst.ticks[10])

	// Same codec: payloads pass untouched, ticks follow the source's steps.
	same := &fakeEndpoint{format: pcmu}
	p2 := newPipe(same, nil, audio.DefaultEncoderOptions(), log)
	for i := 0; i < 3; i++ {
		p2.handle(Packet{Format: pcmu, Timestamp: uint32(i * 240), Payload: []byte{byte(i), 2, 3}})
	}
	require.Equal(t, []byte{1, 2, 3}, same.get()[1].Payload)
	require.Equal(t, []uint32{160, 240, 240}, same.ticks)
}

func TestEngineConfigurations(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config.Default().Media
	cfg.IncludeLoopback = true
	cfg.NAT1To1IPs = []string{"203.0.113.7"}
	e, err := NewEngine(cfg, log)
	require.NoError(t, err)
	w, err := e.NewWebRTC("nat")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	offer, err := w.CreateOffer(ctx)
	require.NoError(t, err)
	require.Contains(t, offer, "203.0.113.7", "the public address is announced")
	require.NoError(t, w.Close())
	require.NoError(t, e.Close())

	cfg = config.Default().Media
	cfg.IncludeLoopback = true
	// A port the kernel gave and took back: another socket may get it
	// before the engine binds it, so a port found taken is tried again.
	for range 20 {
		ln, lerr := net.ListenPacket("udp4", "127.0.0.1:0")
		require.NoError(t, lerr)
		cfg.UDPMuxPort = ln.LocalAddr().(*net.UDPAddr).Port
		require.NoError(t, ln.Close())
		if e, err = NewEngine(cfg, log); !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	require.NoError(t, err) // NewEngine's
	a, b := pair(t, e)
	require.NotNil(t, a)
	require.NotNil(t, b)
	require.NoError(t, a.Close())
	require.NoError(t, b.Close())
	require.NoError(t, e.Close())
}

func TestPipeRelaysEventsRescaled(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opus := Format{Codec: audio.Opus, PayloadType: 111, ClockRate: 48000}
	dst := &fakeEndpoint{format: Format{Codec: audio.PCMU, ClockRate: 8000}, te: true}
	p := newPipe(dst, nil, audio.DefaultEncoderOptions(), log)
	te48 := Format{PayloadType: 110, ClockRate: 48000}
	// digit 5, end bit on the last, duration 4800 ticks at 48 kHz = 100 ms
	p.handle(Packet{TelephoneEvent: true, Format: te48, Timestamp: 9600, Payload: []byte{5, 10, 0x09, 0x60}})
	p.handle(Packet{TelephoneEvent: true, Format: te48, Timestamp: 9600, Payload: []byte{5, 0x8a, 0x12, 0xc0}})
	p.handle(Packet{Format: opus, Timestamp: 14400, Payload: []byte{1}}) // audio in Opus, listener PCMU
	require.Len(t, dst.events, 2)
	require.Equal(t, []byte{5, 10, 0x01, 0x90}, dst.events[0], "2400 → 400 ticks at 8 kHz")
	require.Equal(t, []byte{5, 0x8a, 0x03, 0x20}, dst.events[1], "4800 → 800")
	require.Equal(t, []uint32{9600, 9600}, dst.keys)

	// Music mode (the talker holds) drops events; no TE at the listener drops them too.
	p.setMode(Music)
	p.handle(Packet{TelephoneEvent: true, Format: te48, Timestamp: 20000, Payload: []byte{1, 0, 0, 1}})
	p.setMode(Forward)
	require.Len(t, dst.events, 2)
	noTE := &fakeEndpoint{format: Format{Codec: audio.PCMU, ClockRate: 8000}}
	newPipe(noTE, nil, audio.DefaultEncoderOptions(), log).handle(Packet{TelephoneEvent: true, Format: te48, Payload: []byte{1, 0, 0, 1}})
	require.Empty(t, noTE.events)
}

func TestGeneratorKeepsStreamGoing(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dst := &lockedEndpoint{fakeEndpoint: fakeEndpoint{format: Format{Codec: audio.PCMU, PayloadType: 0, ClockRate: 8000}}}
	p := newPipe(dst, func() audio.Source { return audio.NewMusic(8000) }, audio.DefaultEncoderOptions(), log)
	p.setMode(Music)
	require.Eventually(t, func() bool { return dst.count() >= 10 }, 5*time.Second, 20*time.Millisecond)
	p.handle(Packet{Format: dst.format, Payload: []byte{9}}) // talker audio is not forwarded while holding
	p.setMode(Forward)
	n := dst.count()
	p.handle(Packet{Format: dst.format, Payload: []byte{9}})
	require.Equal(t, n+1, dst.count())
	dec, _ := audio.NewDecoder(audio.PCMU, 8000)
	det := audio.NewDetector(8000, time.Second)
	for _, pkt := range dst.get()[:n] {
		pcm, _ := dec.Decode(pkt.Payload)
		det.Write(pcm)
	}
	require.Greater(t, det.RMS(), 0.01, "music is not silence")
}

type lockedEndpoint struct {
	mu sync.Mutex
	fakeEndpoint
}

func (l *lockedEndpoint) WriteAudio(p []byte, ticks uint32) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fakeEndpoint.WriteAudio(p, ticks)
}

func (l *lockedEndpoint) count() int { return len(l.get()) }

func TestBridgeSendDigit(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pcmu := Format{Codec: audio.PCMU, PayloadType: 0, ClockRate: 8000}
	a, b := &fakeEndpoint{format: pcmu, te: true}, &fakeEndpoint{format: pcmu, te: true}
	br := NewBridge(a, b, nil, log)
	require.ErrorIs(t, br.SendDigit(false, 'x', time.Second), ErrBadDigit)
	require.NoError(t, br.SendDigit(false, '5', 100*time.Millisecond))
	require.NoError(t, br.SendDigit(false, '#', time.Millisecond)) // clamped to 40 ms
	// Both keys sent to the end (three end packets each), whatever the
	// machine's pace, before Stop.
	require.Eventually(t, func() bool { return b.ends() >= 6 }, 10*time.Second, 10*time.Millisecond)
	br.Stop()
	br.Stop() // idempotent
	require.NoError(t, br.SendDigit(false, '1', time.Second), "after Stop: dropped")
	require.Empty(t, a.events, "nothing toward the other side")

	byKey := map[uint32][][]byte{}
	var order []uint32
	for i, k := range b.keys {
		if len(byKey[k]) == 0 {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], b.events[i])
	}
	require.Len(t, order, 2)
	five, hash := byKey[order[0]], byKey[order[1]]
	require.Equal(t, []byte{5, 10, 0, 0}, five[0], "start: digit 5, no duration yet")
	require.GreaterOrEqual(t, len(five), 5, "start, an update, three ends")
	for _, p := range five[len(five)-3:] {
		require.Equal(t, []byte{5, 0x8a, 0x03, 0x20}, p, "end bit, 100 ms = 800 ticks")
	}
	for _, p := range five[:len(five)-3] {
		require.Zero(t, p[1]&0x80, "no end bit before the end")
	}
	end := hash[len(hash)-1]
	require.Equal(t, []byte{11, 0x8a, 0x01, 0x40}, end, "#, 40 ms = 320 ticks")
}

// A call can end while the device's offer is still being answered: Close
// and AnswerOffer may run at once (-race checks the goroutine count).
func TestCloseWhileAnswering(t *testing.T) {
	e := newEngine(t)
	offerer, err := e.NewWebRTC("offerer")
	require.NoError(t, err)
	defer offerer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	offer, err := offerer.CreateOffer(ctx)
	require.NoError(t, err)
	for range 10 {
		w, err := e.NewWebRTC("x")
		require.NoError(t, err)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = w.AnswerOffer(ctx, offer) // may fail: closed under it
		}()
		require.NoError(t, w.Close())
		<-done
		require.NoError(t, w.Close())
	}
}

// TestOpusComplexityDefaultsAgree: config's default for
// media.opus_complexity is the audio package's (config cannot import it).
func TestOpusComplexityDefaultsAgree(t *testing.T) {
	require.Equal(t, audio.DefaultOpusComplexity, config.Default().Media.OpusComplexity)
}
