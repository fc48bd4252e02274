package audio

import "math"

// Ringback cadence (North American: 440 + 480 Hz, 2 s on, 4 s off).
const (
	ringbackOn  = 2.0 // seconds
	ringbackLen = 6.0 // seconds per cycle
)

type ringback struct {
	rate int
	n    int // samples into the cycle
}

// NewRingback returns the ringback tone a caller hears while the far end
// rings: 440 Hz and 480 Hz together, two seconds on, four off. A
// non-positive rate yields silence.
func NewRingback(rate int) Source {
	if rate <= 0 {
		return Silence()
	}
	return &ringback{rate: rate}
}

func (r *ringback) Read(pcm []int16) {
	cycle := int(ringbackLen * float64(r.rate))
	on := int(ringbackOn * float64(r.rate))
	for i := range pcm {
		if r.n < on {
			t := float64(r.n) / float64(r.rate)
			v := 0.25*math.Sin(2*math.Pi*440*t) + 0.25*math.Sin(2*math.Pi*480*t)
			pcm[i] = toSample(v)
		} else {
			pcm[i] = 0
		}
		r.n++
		if r.n == cycle {
			r.n = 0
		}
	}
}
