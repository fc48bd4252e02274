package audio

import "math"

// Source produces PCM at its own rate; Read fills all of pcm with the next
// samples (continuous phase across calls).
type Source interface {
	Read(pcm []int16)
}

// fullScale converts between 0..1 amplitudes and int16 samples.
const fullScale = 32767

// toSample converts v in -1..1 of full scale to a clipped int16.
func toSample(v float64) int16 {
	v = math.Round(v * fullScale)
	switch {
	case v > math.MaxInt16:
		return math.MaxInt16
	case v < math.MinInt16:
		return math.MinInt16
	}
	return int16(v)
}

type tone struct {
	phase, step, amp float64
}

// NewTone returns a sine at freq Hz, sample rate rate, with amplitude 0..1 of
// full scale (clamped to that range). A non-positive rate yields silence.
func NewTone(freq float64, rate int, amplitude float64) Source {
	if rate <= 0 {
		return Silence()
	}
	amplitude = math.Max(0, math.Min(1, amplitude))
	step := math.Mod(2*math.Pi*freq/float64(rate), 2*math.Pi)
	if step < 0 {
		step += 2 * math.Pi
	}
	return &tone{step: step, amp: amplitude}
}

func (t *tone) Read(pcm []int16) {
	for i := range pcm {
		pcm[i] = toSample(t.amp * math.Sin(t.phase))
		t.phase += t.step
		if t.phase >= 2*math.Pi {
			t.phase -= 2 * math.Pi
		}
	}
}

type silence struct{}

func (silence) Read(pcm []int16) { clear(pcm) }

// Silence returns a Source of zeros.
func Silence() Source { return silence{} }

// loop plays a fixed, non-empty buffer over and over. The buffer is never
// modified, so several loops may share it.
type loop struct {
	buf []int16
	pos int
}

func (l *loop) Read(pcm []int16) {
	for len(pcm) > 0 {
		n := copy(pcm, l.buf[l.pos:])
		pcm = pcm[n:]
		l.pos += n
		if l.pos == len(l.buf) {
			l.pos = 0
		}
	}
}
