package media

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
)

// mixEP is an endpoint whose inbound packets the test pushes through the
// mixer's sink and whose outbound frames it decodes.
type mixEP struct {
	format Format

	mu   sync.Mutex
	sink func(Packet)
	out  [][]byte
	seq  uint16
	enc  audio.Encoder
}

func newMixEP(t testing.TB, c audio.Codec) *mixEP {
	f := Format{Codec: c, PayloadType: 0, ClockRate: 8000}
	if c == audio.Opus {
		f = Format{Codec: c, PayloadType: 111, ClockRate: 48000}
	}
	enc, err := audio.NewEncoder(c, 8000)
	require.NoError(t, err)
	return &mixEP{format: f, enc: enc}
}

func (e *mixEP) SetSink(fn func(Packet)) {
	e.mu.Lock()
	e.sink = fn
	e.mu.Unlock()
}
func (e *mixEP) SendFormat() (Format, bool) { return e.format, true }
func (e *mixEP) WriteAudio(p []byte, _ uint32) error {
	e.mu.Lock()
	e.out = append(e.out, slices.Clone(p))
	e.mu.Unlock()
	return nil
}
func (e *mixEP) EventFormat() (Format, bool)     { return Format{}, false }
func (e *mixEP) WriteEvent([]byte, uint32) error { return nil }
func (e *mixEP) Stats() Stats                    { return Stats{} }
func (e *mixEP) Close() error                    { return nil }

// talk sends one 20 ms frame of pcm (8 kHz) as the participant's audio.
func (e *mixEP) talk(t testing.TB, pcm []int16) {
	payload, err := e.enc.Encode(pcm)
	require.NoError(t, err)
	e.mu.Lock()
	sink := e.sink
	e.seq++
	seq := e.seq
	e.mu.Unlock()
	if sink != nil {
		sink(Packet{Format: e.format, Seq: seq, Timestamp: uint32(seq) * e.format.Ticks(), Payload: payload})
	}
}

// heard decodes everything the participant was sent.
func (e *mixEP) heard(t testing.TB) *audio.Detector {
	dec, err := audio.NewDecoder(e.format.Codec, 8000)
	require.NoError(t, err)
	det := audio.NewDetector(8000, time.Second)
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range e.out {
		pcm, err := dec.Decode(p)
		require.NoError(t, err)
		det.Write(pcm)
	}
	return det
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestMixFor(t *testing.T) {
	for _, tc := range []struct {
		name string
		sum  []int32
		own  []int16
		deaf bool
		want []int16
	}{
		{"others only", []int32{300, -200}, []int16{100, -50}, false, []int16{200, -150}},
		{"silent talker hears all", []int32{300, -200}, nil, false, []int16{300, -200}},
		{"clips high", []int32{40000, 32767}, []int16{1000, 0}, false, []int16{32767, 32767}},
		{"clips low", []int32{-50000, -32768}, []int16{-1000, 0}, false, []int16{-32768, -32768}},
		{"own loud frame is not clipped away", []int32{40000}, []int16{30000}, false, []int16{10000}},
		{"deaf hears silence", []int32{300, 1}, nil, true, []int16{0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := make([]int16, len(tc.sum))
			mixFor(out, tc.sum, tc.own, tc.deaf)
			require.Equal(t, tc.want, out)
		})
	}
}

func TestMixerNMinusOne(t *testing.T) {
	freqs := []float64{440, 700, 1100}
	for _, tc := range []struct {
		name   string
		codecs []audio.Codec
		muted  int // index of a muted participant, -1 for none
		held   int // index of a holding participant, -1 for none
	}{
		{"pcmu", []audio.Codec{audio.PCMU, audio.PCMU, audio.PCMU}, -1, -1},
		{"codec mix", []audio.Codec{audio.Opus, audio.PCMU, audio.PCMA}, -1, -1},
		{"muted talker", []audio.Codec{audio.Opus, audio.PCMU, audio.PCMA}, 1, -1},
		{"holding participant", []audio.Codec{audio.PCMA, audio.Opus, audio.PCMU}, -1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMixerState(audio.DefaultEncoderOptions(), quietLog())
			eps := make([]*mixEP, len(tc.codecs))
			tones := make([]audio.Source, len(tc.codecs))
			for i, c := range tc.codecs {
				eps[i] = newMixEP(t, c)
				tones[i] = audio.NewTone(freqs[i], 8000, 0.2)
				require.NoError(t, m.Add(eps[i]))
			}
			require.ErrorIs(t, m.Add(eps[0]), ErrAlreadyMixed)
			if tc.muted >= 0 {
				m.SetMuted(eps[tc.muted], true)
			}
			if tc.held >= 0 {
				m.SetHeld(eps[tc.held], true)
			}
			pcm := make([]int16, 160)
			for range 50 {
				for i, ep := range eps {
					tones[i].Read(pcm)
					ep.talk(t, pcm)
				}
				m.mixOnce()
			}
			for i, ep := range eps {
				det := ep.heard(t)
				for j, f := range freqs {
					heard := det.Level(f) > 0.1
					want := j != i && j != tc.muted && j != tc.held && i != tc.held
					require.Equal(t, want, heard, "participant %d (%s) hearing %v Hz: level %.3f",
						i, tc.codecs[i], f, det.Level(f))
				}
			}
		})
	}
}

func TestMixerDropsDTMFAndRemoved(t *testing.T) {
	m := newMixerState(audio.DefaultEncoderOptions(), quietLog())
	a, b := newMixEP(t, audio.PCMU), newMixEP(t, audio.PCMU)
	require.NoError(t, m.Add(a))
	require.NoError(t, m.Add(b))
	a.mu.Lock()
	sink := a.sink
	a.mu.Unlock()
	sink(Packet{TelephoneEvent: true, Format: Format{PayloadType: 101, ClockRate: 8000}, Payload: []byte{1, 0, 0, 160}})
	m.mixOnce()
	require.Equal(t, 0.0, b.heard(t).RMS(), "an event is not audio")

	m.Remove(a)
	m.Remove(a) // harmless
	require.Nil(t, a.sink, "a removed endpoint has no sink")
	require.Equal(t, 1, m.Len())
	m.mixOnce()
	require.Len(t, a.out, 1, "a removed participant hears nothing more")
	require.Len(t, b.out, 2)
}

func TestMixerTicksAndCloses(t *testing.T) {
	m := NewMixer(quietLog())
	a, b := newMixEP(t, audio.PCMU), newMixEP(t, audio.Opus)
	require.NoError(t, m.Add(a))
	require.NoError(t, m.Add(b))
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.mu.Lock()
		n := len(b.out)
		b.mu.Unlock()
		if n >= 5 || time.Now().After(deadline) {
			require.GreaterOrEqual(t, n, 5, "the mixer sends every 20 ms")
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	m.Close()
	m.Close()
	require.Nil(t, a.sink)
	require.ErrorIs(t, m.Add(a), ErrMixerClosed)
}

// TestFramesDue: each tick mixes the frames the clock says are due, at
// most mixCatchUp, and a mixer further behind skips the rest.
func TestFramesDue(t *testing.T) {
	f := audio.FrameDuration
	for _, tc := range []struct {
		name      string
		elapsed   time.Duration
		mixed     int64
		n         int
		mixedThen int64
	}{
		{"on time", f, 0, 1, 1},
		{"early tick", f - time.Millisecond, 0, 0, 0},
		{"a tick late", 3*f + f/2, 1, 2, 3},
		{"at the bound", 4 * f, 1, 3, 4},
		{"far behind skips", 20 * f, 1, 3, 20},
		{"ahead", 2 * f, 5, 0, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, mixed := framesDue(tc.elapsed, tc.mixed)
			require.Equal(t, tc.n, n)
			require.Equal(t, tc.mixedThen, mixed)
		})
	}
}

// BenchmarkMixer measures a conference's mixing cost: one iteration is one
// 20 ms tick in which every participant's packet is decoded and every
// participant's N−1 mix is encoded. It reports the time per participant
// per tick and that time as a share of one core (a participant needs one
// tick every 20 ms):
//
//	go test -run '^$' -bench Mixer -benchtime 2000x ./internal/media
func BenchmarkMixer(b *testing.B) {
	for _, c := range []audio.Codec{audio.Opus, audio.PCMU} {
		for _, n := range []int{3, 5, 10} {
			b.Run(fmt.Sprintf("%s/%d", c, n), func(b *testing.B) { benchMixer(b, c, n) })
		}
	}
}

func benchMixer(b *testing.B, c audio.Codec, n int) {
	m := newMixerState(audio.DefaultEncoderOptions(), quietLog())
	eps := make([]*mixEP, n)
	frames := make([][]int16, n)
	for i := range eps {
		eps[i] = newMixEP(b, c)
		require.NoError(b, m.Add(eps[i]))
		frames[i] = make([]int16, 160)
		audio.NewTone(300+float64(i)*110, 8000, 0.1).Read(frames[i])
	}
	payloads := make([][]byte, n) // what each participant sends, encoded once
	for i, ep := range eps {
		p, err := ep.enc.Encode(frames[i])
		require.NoError(b, err)
		payloads[i] = p
	}
	sinks := make([]func(Packet), n)
	for i, ep := range eps {
		sinks[i] = ep.sink
	}
	b.ResetTimer()
	for it := range b.N {
		for i, ep := range eps {
			sinks[i](Packet{Format: ep.format, Seq: uint16(it), Payload: payloads[i]})
		}
		m.mixOnce()
		if it%64 == 0 {
			for _, ep := range eps {
				ep.out = ep.out[:0] // the fake keeps what it is sent
			}
		}
	}
	perPart := float64(b.Elapsed().Microseconds()) / float64(b.N) / float64(n)
	b.ReportMetric(perPart, "µs/participant")
	b.ReportMetric(perPart/float64(audio.FrameDuration.Microseconds())*100, "%core/participant")
}
