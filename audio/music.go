package audio

import (
	"math"
	"sync"
)

// The built-in music on hold is a four-bar waltz (3/4 at 100 bpm, C - Am - F
// - G, 7.2 s per loop): a sustained sine pad chord per bar, an eighth-note
// sine arpeggio and a soft melody on top. At least four notes sound at any
// time and no single note carries most of the power. Every note is kept
// well away from 390-490 Hz and 950-1050 Hz, so a caller's 440 Hz or 1 kHz
// test tone can always be told apart from the music. Only pure sines are
// used, so there are no harmonics in those bands either.

const (
	musicBPM      = 100
	musicBeats    = 3 // beats per bar
	musicBars     = 4
	musicPeak     = 0.5 // peak amplitude of the rendered loop, 0..1
	padAmp        = 0.07
	arpAmp        = 0.11
	melodyAmp     = 0.08
	padAttack     = 0.15 // seconds
	padRelease    = 0.30
	arpAttack     = 0.015
	arpDecay      = 0.35 // exponential time constant
	arpRing       = 0.60 // how long an arpeggio note rings
	melodyAttack  = 0.03
	melodyDecay   = 0.8
	noteFadeOut   = 0.05
	beatSeconds   = 60.0 / musicBPM
	eighthSeconds = beatSeconds / 2
)

// MIDI note numbers.
const (
	nF2 = 41
	nG2 = 43
	nA2 = 45
	nB2 = 47
	nC3 = 48
	nD3 = 50
	nE3 = 52
	nF3 = 53
	nG3 = 55
	nA3 = 57
	nB3 = 59
	nC4 = 60
	nD4 = 62
	nE4 = 64
	nF4 = 65
	nC5 = 72
	nD5 = 74
	nE5 = 76
	nF5 = 77
	nG5 = 79
	nA5 = 81
)

// musicPads holds the pad chord of each bar.
var musicPads = [musicBars][]int{
	{nC3, nE3, nG3},
	{nA2, nC3, nE3},
	{nA2, nC3, nF3},
	{nG2, nB2, nD3},
}

// musicArps holds the six eighth notes of each bar's arpeggio.
var musicArps = [musicBars][2 * musicBeats]int{
	{nC4, nE4, nC5, nE5, nC5, nE4},
	{nA3, nC4, nE4, nC5, nE4, nC4},
	{nF3, nA3, nC4, nF4, nC4, nA3},
	{nG3, nB3, nD4, nD5, nD4, nB3},
}

// melodyNote is one melody note, in beats.
type melodyNote struct {
	note, start, beats int
}

var musicMelody = []melodyNote{
	{nE5, 0, 2}, {nD5, 2, 1},
	{nC5, 3, 2}, {nE5, 5, 1},
	{nF5, 6, 2}, {nA5, 8, 1},
	{nG5, 9, 2}, {nD5, 11, 1},
}

// noteFreq returns the frequency of MIDI note n in Hz (A4 = 69 = 440 Hz).
func noteFreq(n int) float64 {
	return 440 * math.Pow(2, float64(n-69)/12)
}

// musicNotes returns every note the music uses, for tests.
func musicNotes() []int {
	var notes []int
	for _, p := range musicPads {
		notes = append(notes, p...)
	}
	for _, a := range musicArps {
		notes = append(notes, a[:]...)
	}
	for _, m := range musicMelody {
		notes = append(notes, m.note)
	}
	return notes
}

var (
	musicMu    sync.Mutex
	musicCache = map[int][]int16{}
)

// NewMusic returns the built-in music on hold at rate: a pleasant melody
// looping every 7.2 s. A non-positive rate yields silence.
func NewMusic(rate int) Source {
	if rate <= 0 {
		return Silence()
	}
	musicMu.Lock()
	buf, ok := musicCache[rate]
	if !ok {
		buf = renderMusic(rate)
		musicCache[rate] = buf
	}
	musicMu.Unlock()
	return &loop{buf: buf}
}

// voice describes how one note is shaped.
type voice struct {
	amp, attack, decay, length float64 // decay 0 means none; seconds
	release                    float64 // fade-out at the end of length
}

// renderMusic renders one loop of the music at rate. Notes that ring past
// the end of the loop wrap around to its start, so the loop is seamless.
func renderMusic(rate int) []int16 {
	r := float64(rate)
	barSeconds := beatSeconds * musicBeats
	total := int(math.Round(barSeconds * musicBars * r))
	mix := make([]float64, total)

	add := func(note int, start float64, v voice) {
		f := noteFreq(note)
		if f >= r/2 {
			return
		}
		s0 := int(math.Round(start * r))
		n := int(v.length * r)
		w := 2 * math.Pi * f / r
		for i := 0; i < n; i++ {
			t := float64(i) / r
			env := 1.0
			if t < v.attack {
				env = 0.5 - 0.5*math.Cos(math.Pi*t/v.attack)
			}
			if v.decay > 0 {
				env *= math.Exp(-t / v.decay)
			}
			if left := v.length - t; left < v.release {
				env *= 0.5 - 0.5*math.Cos(math.Pi*left/v.release)
			}
			mix[(s0+i)%total] += v.amp * env * math.Sin(w*float64(i))
		}
	}

	for bar := 0; bar < musicBars; bar++ {
		barStart := float64(bar) * barSeconds
		pad := voice{amp: padAmp, attack: padAttack, length: barSeconds + padRelease, release: padRelease}
		for _, n := range musicPads[bar] {
			add(n, barStart, pad)
		}
		arp := voice{amp: arpAmp, attack: arpAttack, decay: arpDecay, length: arpRing, release: noteFadeOut}
		for i, n := range musicArps[bar] {
			add(n, barStart+float64(i)*eighthSeconds, arp)
		}
	}
	for _, m := range musicMelody {
		mel := voice{
			amp: melodyAmp, attack: melodyAttack, decay: melodyDecay,
			length: float64(m.beats)*beatSeconds + noteFadeOut, release: 2 * noteFadeOut,
		}
		add(m.note, float64(m.start)*beatSeconds, mel)
	}

	peak := 0.0
	for _, v := range mix {
		peak = math.Max(peak, math.Abs(v))
	}
	gain := 1.0
	if peak > 0 {
		gain = musicPeak / peak
	}
	out := make([]int16, total)
	for i, v := range mix {
		out[i] = toSample(v * gain)
	}
	return out
}
