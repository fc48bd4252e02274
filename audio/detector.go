package audio

import (
	"math"
	"sync"
	"time"
)

// silentRMS is the AC RMS (0..1 of full scale, about -74 dBFS) below which
// a window counts as silent for Level and Dominant.
const silentRMS = 2e-4

// Detector keeps the last window of PCM written to it and answers questions
// about it: tone levels (Goertzel), RMS and the dominant frequency. It is
// safe for concurrent use; analysis runs on a snapshot, so readers never
// hold up the writer for long.
type Detector struct {
	rate int

	mu    sync.Mutex
	ring  []int16 // circular buffer of the last len(ring) samples
	pos   int     // next write index in ring
	fill  int     // valid samples in ring
	total int64   // samples ever written
}

// NewDetector returns a Detector at the given sample rate keeping the last
// window of audio (at least one sample).
func NewDetector(rate int, window time.Duration) *Detector {
	n := int(int64(rate) * int64(window) / int64(time.Second))
	if n < 1 {
		n = 1
	}
	return &Detector{rate: rate, ring: make([]int16, n)}
}

// Write appends pcm to the window, dropping the oldest samples.
func (d *Detector) Write(pcm []int16) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.total += int64(len(pcm))
	if len(pcm) >= len(d.ring) {
		copy(d.ring, pcm[len(pcm)-len(d.ring):])
		d.pos, d.fill = 0, len(d.ring)
		return
	}
	n := copy(d.ring[d.pos:], pcm)
	copy(d.ring, pcm[n:])
	d.pos = (d.pos + len(pcm)) % len(d.ring)
	d.fill = min(d.fill+len(pcm), len(d.ring))
}

// snapshot returns the window's samples, oldest first, as floats.
func (d *Detector) snapshot() []float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]float64, d.fill)
	start := (d.pos - d.fill + len(d.ring)) % len(d.ring)
	for i := range out {
		out[i] = float64(d.ring[(start+i)%len(d.ring)]) / 32768
	}
	return out
}

// Samples returns how many samples were written in total.
func (d *Detector) Samples() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.total
}

// Reset forgets the window (Samples keeps counting).
func (d *Detector) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	clear(d.ring)
	d.pos, d.fill = 0, 0
}

// RMS returns the window's RMS in 0..1 of full scale.
func (d *Detector) RMS() float64 {
	x := d.snapshot()
	if len(x) == 0 {
		return 0
	}
	sum := 0.0
	for _, v := range x {
		sum += v * v
	}
	return math.Sqrt(sum / float64(len(x)))
}

// analysis is a window prepared for Goertzel: DC removed, Hann windowed.
type analysis struct {
	rate   float64
	xw     []float64 // windowed samples
	wsum   float64   // sum of the window function
	power  float64   // mean power of the (DC-free, unwindowed) samples
	silent bool
}

func (d *Detector) analyze() *analysis {
	x := d.snapshot()
	a := &analysis{rate: float64(d.rate), xw: x}
	n := len(x)
	if n < 2 || d.rate <= 0 {
		a.silent = true
		return a
	}
	mean := 0.0
	for _, v := range x {
		mean += v
	}
	mean /= float64(n)
	for i, v := range x {
		v -= mean
		a.power += v * v
		w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n-1))
		a.wsum += w
		x[i] = v * w
	}
	a.power /= float64(n)
	a.silent = a.power < silentRMS*silentRMS || a.wsum == 0
	return a
}

// goertzel returns the squared DTFT magnitude of the windowed samples at freq.
func (a *analysis) goertzel(freq float64) float64 {
	w := 2 * math.Pi * freq / a.rate
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range a.xw {
		s1, s2 = v+c*s1-s2, s1
	}
	return s1*s1 + s2*s2 - c*s1*s2
}

// level converts the Goertzel power at freq into a share of the total power.
func (a *analysis) level(freq float64) float64 {
	if a.silent || freq <= 0 || freq >= a.rate/2 {
		return 0
	}
	amp := 2 * math.Sqrt(math.Max(0, a.goertzel(freq))) / a.wsum
	return math.Min(1, amp*amp/2/a.power)
}

// Level returns the Goertzel power at freq divided by the total power of the
// window (0..1), using a Hann window. A clean tone at freq gives about 1, an
// equal mix of two tones about 0.5 each, silence 0.
func (d *Detector) Level(freq float64) float64 {
	return d.analyze().level(freq)
}

// Dominant returns the strongest frequency in [lo, hi] Hz, or 0 for a silent
// window. It scans in 5 Hz steps and then refines the best step to 1 Hz.
func (d *Detector) Dominant(lo, hi float64) float64 {
	a := d.analyze()
	if a.silent {
		return 0
	}
	lo = math.Max(lo, 1)
	hi = math.Min(hi, a.rate/2-1)
	if lo > hi {
		return 0
	}
	best, bestP := 0.0, -1.0
	try := func(f float64) {
		if f < lo || f > hi {
			return
		}
		if p := a.goertzel(f); p > bestP {
			best, bestP = f, p
		}
	}
	for f := lo; f <= hi; f += 5 {
		try(f)
	}
	try(hi)
	coarse := best
	for off := -4.0; off <= 4; off++ {
		try(coarse + off)
	}
	return best
}
