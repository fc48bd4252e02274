package recording

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
)

const rate = 8000

// memFile is a File in memory.
type memFile struct {
	mu     sync.Mutex
	b      []byte
	closed bool
}

func (m *memFile) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.b = append(m.b, p...)
	return len(p), nil
}

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	copy(m.b[off:], p)
	return len(p), nil
}

func (m *memFile) Close() error { m.closed = true; return nil }

func (m *memFile) bytes() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]byte(nil), m.b...)
}

// fakeClock is a clock tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// run feeds each channel its source for d in 20 ms frames, moving the
// clock and flushing as the writer's goroutine would.
func run(w *Writer, c *fakeClock, d time.Duration, srcs ...audio.Source) {
	frame := make([]int16, audio.FrameSamples(rate))
	for el := time.Duration(0); el < d; el += audio.FrameDuration {
		c.t = c.t.Add(audio.FrameDuration)
		for ch, s := range srcs {
			if s == nil {
				continue
			}
			s.Read(frame)
			w.Feed(ch, frame)
		}
		w.ioMu.Lock()
		w.flush(w.frameAt(c.now()), nil)
		w.ioMu.Unlock()
	}
}

func dominant(pcm []int16) float64 {
	d := audio.NewDetector(rate, time.Duration(len(pcm))*time.Second/rate)
	d.Write(pcm)
	return d.Dominant(200, 3000)
}

func rms(pcm []int16) float64 {
	s := 0.0
	for _, v := range pcm {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(max(1, len(pcm))))
}

func seconds(a *Audio, ch int, from, to float64) []int16 {
	return a.Channels[ch][int(from*float64(a.Rate)):int(to*float64(a.Rate))]
}

// Each channel carries its own source, in time, and the final header
// counts every frame.
func TestWriterTwoChannels(t *testing.T) {
	f := &memFile{}
	c := &fakeClock{t: time.Unix(1000, 0)}
	w, err := newWriter(f, rate, 2, c.now)
	require.NoError(t, err)
	run(w, c, 2*time.Second, audio.NewTone(440, rate, 0.5), audio.NewTone(1000, rate, 0.5))
	res, err := w.Close()
	require.NoError(t, err)
	require.True(t, f.closed)
	require.InDelta(t, 2000, res.DurationMS, 30)
	b := f.bytes()
	require.Equal(t, int64(len(b)), res.SizeBytes)
	require.Equal(t, uint32(len(b)-8), binary.LittleEndian.Uint32(b[riffSizeAt:]))
	require.Equal(t, uint32(len(b)-headerSize), binary.LittleEndian.Uint32(b[dataSizeAt:]))
	a, err := Decode(b)
	require.NoError(t, err)
	require.Len(t, a.Channels, 2)
	require.InDelta(t, 440, dominant(seconds(a, 0, 0.5, 1.5)), 5)
	require.InDelta(t, 1000, dominant(seconds(a, 1, 0.5, 1.5)), 5)
}

// A channel that sends nothing (or stops) is silence, and the other
// stays where the clock puts it.
func TestWriterGapIsSilence(t *testing.T) {
	f := &memFile{}
	c := &fakeClock{t: time.Unix(1000, 0)}
	w, err := newWriter(f, rate, 2, c.now)
	require.NoError(t, err)
	tone := audio.NewTone(440, rate, 0.5)
	run(w, c, time.Second, tone, nil)
	run(w, c, time.Second, nil, nil) // both quiet: a network gap
	run(w, c, time.Second, tone, audio.NewTone(440, rate, 0.5))
	_, err = w.Close()
	require.NoError(t, err)
	a, err := Decode(f.bytes())
	require.NoError(t, err)
	require.InDelta(t, 3*rate, a.Frames(), rate/10)
	require.Zero(t, rms(seconds(a, 1, 0, 1.0)), "channel 2 sent nothing")
	require.Zero(t, rms(seconds(a, 0, 1.2, 1.8)), "the gap (audio lands within jitterLag of its time)")
	require.InDelta(t, 440, dominant(seconds(a, 0, 2.2, 2.9)), 5)
	require.InDelta(t, 440, dominant(seconds(a, 1, 2.2, 2.9)), 5)
}

// A paused span is silence on both channels, and its offsets are kept.
func TestWriterPause(t *testing.T) {
	f := &memFile{}
	c := &fakeClock{t: time.Unix(1000, 0)}
	w, err := newWriter(f, rate, 2, c.now)
	require.NoError(t, err)
	a1, a2 := audio.NewTone(440, rate, 0.5), audio.NewTone(1000, rate, 0.5)
	run(w, c, time.Second, a1, a2)
	w.Pause()
	require.True(t, w.Paused())
	run(w, c, time.Second, a1, a2)
	w.Resume()
	run(w, c, time.Second, a1, a2)
	w.Pause() // paused at the end: the span closes with the file
	run(w, c, 500*time.Millisecond, a1, a2)
	res, err := w.Close()
	require.NoError(t, err)
	require.Len(t, res.Paused, 2)
	require.InDelta(t, 900, res.Paused[0].StartMS, 30)
	require.InDelta(t, 1900, res.Paused[0].EndMS, 30)
	require.Equal(t, res.DurationMS, res.Paused[1].EndMS)
	a, err := Decode(f.bytes())
	require.NoError(t, err)
	for ch := range 2 {
		sp := res.Paused[0]
		require.Zero(t, rms(seconds(a, ch, float64(sp.StartMS)/1000, float64(sp.EndMS)/1000)), "channel %d paused", ch)
		require.Greater(t, rms(seconds(a, ch, 2.1, 2.8)), 1000.0, "channel %d after resume", ch)
	}
}

// Audio that runs ahead of the clock (a fast source) is bounded.
func TestWriterBoundsBuffering(t *testing.T) {
	f := &memFile{}
	c := &fakeClock{t: time.Unix(1000, 0)}
	w, err := newWriter(f, rate, 2, c.now)
	require.NoError(t, err)
	burst := make([]int16, 10*rate)
	w.Feed(0, burst)
	w.mu.Lock()
	require.LessOrEqual(t, len(w.bufs[0]), int(w.frames(maxAhead)))
	w.mu.Unlock()
	w.Feed(7, burst) // no such channel
	_, err = w.Close()
	require.NoError(t, err)
	_, err = w.Close()
	require.NoError(t, err, "Close is idempotent")
}

// The header is rewritten as the recording goes (every second), and a
// file cut anywhere still decodes up to its last whole frame.
func TestWriterPartialFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.wav")
	f, err := os.Create(path)
	require.NoError(t, err)
	w, err := NewWriter(f, rate, 2, nil)
	require.NoError(t, err)
	tone := audio.NewTone(440, rate, 0.5)
	frame := make([]int16, audio.FrameSamples(rate))
	tk := time.NewTicker(audio.FrameDuration)
	defer tk.Stop()
	start := time.Now()
	for time.Since(start) < 2500*time.Millisecond {
		<-tk.C
		tone.Read(frame)
		w.Feed(0, frame)
	}
	// Read the file while the writer still runs, as after kill -9.
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	counted := binary.LittleEndian.Uint32(b[dataSizeAt:])
	require.Greater(t, counted, uint32(rate*4), "the header counts at least a second")
	require.LessOrEqual(t, int(counted), len(b)-headerSize)
	a, err := Decode(b)
	require.NoError(t, err)
	require.Equal(t, (len(b)-headerSize)/4, a.Frames(), "the data runs to the end of the file")
	require.InDelta(t, 440, dominant(seconds(a, 0, 0.5, 1.5)), 5)

	for _, cut := range []int{headerSize, headerSize + 1, headerSize + 4001, len(b) / 2} {
		a, err := Decode(b[:cut])
		require.NoError(t, err, "cut at %d", cut)
		require.Equal(t, (cut-headerSize)/4, a.Frames())
	}
	_, err = w.Close()
	require.NoError(t, err)
	b, err = os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, uint32(len(b)-headerSize), binary.LittleEndian.Uint32(b[dataSizeAt:]))
}

func TestDecodeRejects(t *testing.T) {
	good := header(8000, 2, 0)
	for name, b := range map[string][]byte{
		"empty":    nil,
		"not riff": []byte("RIFX0000WAVE"),
		"no fmt":   append([]byte("RIFF\x04\x00\x00\x00WAVE"), []byte("data\x00\x00\x00\x00")...),
		"float":    func() []byte { b := append([]byte(nil), good...); b[20] = 3; return b }(),
		"8 bit":    func() []byte { b := append([]byte(nil), good...); b[34] = 8; return b }(),
		"0 chans":  func() []byte { b := append([]byte(nil), good...); b[22] = 0; return b }(),
		"bad rate": func() []byte { b := append([]byte(nil), good...); b[24], b[25], b[26] = 1, 0, 0; return b }(),
	} {
		_, err := Decode(b)
		require.Error(t, err, name)
	}
	a, err := Decode(good)
	require.NoError(t, err)
	require.Zero(t, a.Frames())
}

func TestNewWriterRejects(t *testing.T) {
	_, err := newWriter(&memFile{}, 10, 2, nil)
	require.ErrorIs(t, err, ErrUnsupported)
	_, err = newWriter(&memFile{}, rate, 0, nil)
	require.ErrorIs(t, err, ErrUnsupported)
}

// slowFile blocks every write after the header until release closes.
type slowFile struct {
	memFile
	writes  atomic.Int32
	release chan struct{}
}

func (s *slowFile) Write(p []byte) (int, error) {
	if s.writes.Add(1) > 1 {
		<-s.release
	}
	return s.memFile.Write(p)
}

// A disk that stalls never holds up Feed (it runs on media goroutines).
func TestWriterFeedNeverWaitsForTheDisk(t *testing.T) {
	f := &slowFile{release: make(chan struct{})}
	w, err := NewWriter(f, rate, 2, nil)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return f.writes.Load() > 1 }, 2*time.Second, tickEvery, "the ticker is stuck in Write")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 10 {
			w.Feed(0, make([]int16, 160))
		}
	}()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("Feed waited for the disk")
	}
	close(f.release)
	_, err = w.Close()
	require.NoError(t, err)
}

// BenchmarkWriterSecond is one second of a recorded call: 50 frames fed
// per channel and the file appended (to memory).
func BenchmarkWriterSecond(b *testing.B) {
	frame := make([]int16, audio.FrameSamples(rate))
	audio.NewTone(440, rate, 0.5).Read(frame)
	for range b.N {
		f := &memFile{}
		c := &fakeClock{t: time.Unix(1000, 0)}
		w, err := newWriter(f, rate, 2, c.now)
		require.NoError(b, err)
		for range 50 {
			c.t = c.t.Add(audio.FrameDuration)
			w.Feed(0, frame)
			w.Feed(1, frame)
			w.ioMu.Lock()
			w.flush(w.frameAt(c.now()), nil)
			w.ioMu.Unlock()
		}
		_, _ = w.Close()
	}
}
