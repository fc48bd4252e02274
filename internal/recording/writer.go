package recording

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/switchboard-voice/switchboard/internal/store"
)

// File is where a Writer puts a recording: appended to in order, its
// header rewritten in place.
type File interface {
	io.Writer
	io.WriterAt
	io.Closer
}

// Writer timing.
const (
	// tickEvery is how often buffered audio goes to the file.
	tickEvery = 20 * time.Millisecond
	// headerEvery is how often the header's sizes are rewritten: a
	// crash loses at most about this much (plus the jitter lag).
	headerEvery = time.Second
	// jitterLag is how far behind the wall clock the file is written,
	// so audio that arrives a little late still lands in its place.
	jitterLag = 100 * time.Millisecond
	// maxAhead bounds the audio a channel may hold beyond what the
	// clock has reached (a source whose clock runs fast loses the excess).
	maxAhead = 400 * time.Millisecond
)

// ErrClosed is Feed's (silent) state and Close's error after Close.
var ErrClosed = errors.New("recording: writer closed")

// Writer writes a two-channel 16-bit WAV file as a call goes: each
// channel is fed decoded PCM at the writer's rate by its own goroutine;
// every tick the writer takes, per channel, the audio the wall clock has
// reached, fills what is missing with silence (so the channels stay
// aligned with time and each other) and appends the frames. While paused
// it writes silence and notes the span.
type Writer struct {
	f        File
	rate     int
	channels int
	start    time.Time
	now      func() time.Time

	// ioMu orders the file's writes (the ticker, Pause, Resume, Close);
	// it is taken before mu. Feed takes mu alone, so a slow disk never
	// holds up the media goroutines that feed.
	ioMu    sync.Mutex
	headAt  int64  // frames the header counts (under ioMu)
	scratch []byte // under ioMu

	mu      sync.Mutex
	bufs    [][]int16
	written int64 // frames taken for the file
	paused  bool
	spans   []store.PausedSpan
	err     error
	closed  bool

	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	running  bool
}

// Result is a finished recording's summary.
type Result struct {
	DurationMS int64
	SizeBytes  int64
	Paused     []store.PausedSpan
}

// NewWriter writes the header to f and starts the writer's goroutine
// (stopped by Close). now is the clock (nil: time.Now).
func NewWriter(f File, rate, channels int, now func() time.Time) (*Writer, error) {
	w, err := newWriter(f, rate, channels, now)
	if err != nil {
		return nil, err
	}
	w.running = true
	go w.run()
	return w, nil
}

// newWriter is NewWriter without the goroutine (tests tick by hand).
func newWriter(f File, rate, channels int, now func() time.Time) (*Writer, error) {
	if rate < minRate || rate > maxRate || channels < 1 || channels > maxChannels {
		return nil, fmt.Errorf("%w: %d channels at %d Hz", ErrUnsupported, channels, rate)
	}
	if now == nil {
		now = time.Now
	}
	if _, err := f.Write(header(rate, channels, 0)); err != nil {
		return nil, fmt.Errorf("recording: write header: %w", err)
	}
	return &Writer{f: f, rate: rate, channels: channels, start: now(), now: now,
		bufs: make([][]int16, channels), stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// Feed adds audio to channel ch (0-based). pcm is copied: the caller may
// reuse it. Audio fed while paused, after Close, or to a channel the file
// does not have is dropped.
func (w *Writer) Feed(ch int, pcm []int16) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.paused || ch < 0 || ch >= w.channels {
		return
	}
	w.bufs[ch] = append(w.bufs[ch], pcm...)
	if limit := w.frameAt(w.now()) - w.written + w.frames(maxAhead); int64(len(w.bufs[ch])) > limit && limit >= 0 {
		drop := int64(len(w.bufs[ch])) - limit
		w.bufs[ch] = append(w.bufs[ch][:0], w.bufs[ch][drop:]...)
	}
}

// Pause writes what came before and silence from now on.
func (w *Writer) Pause() {
	w.ioMu.Lock()
	defer w.ioMu.Unlock()
	w.flush(w.frameAt(w.now()), func() {
		if w.paused {
			return
		}
		w.paused = true
		w.spans = append(w.spans, store.PausedSpan{StartMS: w.ms(w.written), EndMS: -1})
		for c := range w.bufs {
			w.bufs[c] = w.bufs[c][:0]
		}
	})
}

// Resume ends a pause: audio fed from now on is written again.
func (w *Writer) Resume() {
	w.ioMu.Lock()
	defer w.ioMu.Unlock()
	w.flush(w.frameAt(w.now()), func() {
		if w.paused {
			w.paused = false
			w.spans[len(w.spans)-1].EndMS = w.ms(w.written)
		}
	})
}

// Paused reports whether the writer is paused.
func (w *Writer) Paused() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.paused
}

// Close writes the audio up to now, the final header, and closes the
// file. It is idempotent; later calls return the same result.
func (w *Writer) Close() (Result, error) {
	w.stopOnce.Do(func() { close(w.stop) })
	if w.running {
		<-w.done
	}
	w.ioMu.Lock()
	defer w.ioMu.Unlock()
	closing := false
	w.flush(w.frameAt(w.now().Add(jitterLag)), func() {
		if w.paused {
			w.spans[len(w.spans)-1].EndMS = w.ms(w.written)
		}
		w.closed, closing = true, true
	})
	if closing {
		w.writeHeader()
		if err := w.f.Close(); err != nil {
			w.setErr(fmt.Errorf("recording: close: %w", err))
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.resultLocked(), w.err
}

func (w *Writer) resultLocked() Result {
	spans := append([]store.PausedSpan(nil), w.spans...)
	return Result{DurationMS: w.ms(w.written), SizeBytes: headerSize + w.written*int64(2*w.channels), Paused: spans}
}

// run ticks until Close.
func (w *Writer) run() {
	defer close(w.done)
	t := time.NewTicker(tickEvery)
	defer t.Stop()
	lastHeader := w.now()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		now := w.now()
		w.ioMu.Lock()
		w.flush(w.frameAt(now), nil)
		if now.Sub(lastHeader) >= headerEvery {
			w.writeHeader()
			lastHeader = now
		}
		w.ioMu.Unlock()
	}
}

// frameAt is the frame the file should have reached at t.
func (w *Writer) frameAt(t time.Time) int64 {
	d := t.Sub(w.start) - jitterLag
	if d < 0 {
		return 0
	}
	return int64(d) * int64(w.rate) / int64(time.Second)
}

func (w *Writer) frames(d time.Duration) int64 { return int64(d) * int64(w.rate) / int64(time.Second) }

func (w *Writer) ms(frames int64) int64 { return frames * 1000 / int64(w.rate) }

// flush appends the frames up to target (ioMu held): each channel's
// buffered audio, silence where a channel has none. then, when set, runs
// under mu right after the frames are taken (a state change at exactly
// that frame). A closed writer does nothing.
func (w *Writer) flush(target int64, then func()) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	out := w.takeLocked(target)
	if then != nil {
		then()
	}
	w.mu.Unlock()
	if len(out) == 0 {
		return
	}
	if _, err := w.f.Write(out); err != nil {
		w.setErr(fmt.Errorf("recording: write: %w", err))
	}
}

// takeLocked takes the frames up to target into w.scratch (mu and ioMu
// held) and counts them written.
func (w *Writer) takeLocked(target int64) []byte {
	n := target - w.written
	if n <= 0 || w.err != nil {
		return nil
	}
	if max := int64(maxWAVData/(2*w.channels)) - w.written; n > max {
		n = max
	}
	size := int(n) * 2 * w.channels
	if cap(w.scratch) < size {
		w.scratch = make([]byte, size)
	}
	out := w.scratch[:size]
	clear(out)
	for c, buf := range w.bufs {
		take := min(int(n), len(buf))
		for i := range take {
			at := (i*w.channels + c) * 2
			out[at], out[at+1] = byte(buf[i]), byte(uint16(buf[i])>>8)
		}
		w.bufs[c] = append(buf[:0], buf[take:]...)
	}
	w.written += n
	return out
}

func (w *Writer) setErr(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

// writeHeader rewrites the header's sizes for what is written (ioMu held).
func (w *Writer) writeHeader() {
	w.mu.Lock()
	written, err := w.written, w.err
	w.mu.Unlock()
	if w.headAt == written || err != nil {
		return
	}
	data := uint32(written * int64(2*w.channels))
	if _, err := w.f.WriteAt(header(w.rate, w.channels, data), 0); err != nil {
		w.setErr(fmt.Errorf("recording: rewrite header: %w", err))
		return
	}
	w.headAt = written
}

// result is the writer's progress so far (a span still open ends now).
func (w *Writer) result() Result {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.resultLocked()
}
