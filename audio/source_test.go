package audio

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTonePhaseContinuity(t *testing.T) {
	tests := []struct {
		freq float64
		rate int
	}{
		{440, 8000},
		{1000, 8000},
		{440, 48000},
		{3999, 8000},
		{123.456, 16000},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%v@%d", tc.freq, tc.rate), func(t *testing.T) {
			a := NewTone(tc.freq, tc.rate, 0.8)
			first := append(readN(a, 160), readN(a, 160)...)
			whole := readN(NewTone(tc.freq, tc.rate, 0.8), 320)
			require.Equal(t, whole, first)
			// Many small reads also match one big one.
			b := NewTone(tc.freq, tc.rate, 0.8)
			var pieces []int16
			for len(pieces) < 10*tc.rate {
				pieces = append(pieces, readN(b, 7)...)
			}
			require.Equal(t, readN(NewTone(tc.freq, tc.rate, 0.8), len(pieces)), pieces)
		})
	}
}

func TestToneAmplitudeAndFrequency(t *testing.T) {
	tests := []struct {
		freq, amp float64
		rate      int
	}{
		{440, 1, 8000},
		{1000, 0.5, 8000},
		{440, 0.1, 48000},
		{2500, 0.3, 16000},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%v@%d", tc.freq, tc.rate), func(t *testing.T) {
			pcm := readN(NewTone(tc.freq, tc.rate, tc.amp), tc.rate/2)
			d := detect(pcm, tc.rate)
			require.InDelta(t, tc.amp/math.Sqrt2, d.RMS(), 0.01)
			require.InDelta(t, tc.freq, d.Dominant(50, float64(tc.rate)/2), 2)
			require.Greater(t, d.Level(tc.freq), 0.95)
		})
	}
	// Amplitude is clamped to 0..1.
	pcm := readN(NewTone(440, 8000, 5), 8000)
	require.InDelta(t, 1/math.Sqrt2, detect(pcm, 8000).RMS(), 0.01)
	require.Equal(t, make([]int16, 100), readN(NewTone(440, 8000, -1), 100))
}

func TestSilence(t *testing.T) {
	pcm := []int16{1, 2, 3}
	Silence().Read(pcm)
	require.Equal(t, []int16{0, 0, 0}, pcm)
	require.Equal(t, make([]int16, 10), readN(NewTone(440, 0, 1), 10))
	require.Equal(t, make([]int16, 10), readN(NewMusic(0), 10))
}

func TestMusicNotesAvoidTestTones(t *testing.T) {
	for _, n := range musicNotes() {
		f := noteFreq(n)
		require.False(t, f >= 400-10 && f <= 480+10, "note %d at %.1f Hz is near 440 Hz", n, f)
		require.False(t, f >= 960-10 && f <= 1040+10, "note %d at %.1f Hz is near 1 kHz", n, f)
	}
}

func TestMusic(t *testing.T) {
	for _, rate := range []int{8000, 16000, 48000} {
		t.Run(fmt.Sprint(rate), func(t *testing.T) {
			src := NewMusic(rate)
			// Read in odd-sized chunks to exercise looping.
			var pcm []int16
			for len(pcm) < 10*rate {
				pcm = append(pcm, readN(src, 333)...)
			}
			pcm = pcm[:10*rate]

			slice := rate / 10
			for i := 0; i+slice <= len(pcm); i += slice {
				rms := detect(pcm[i:i+slice], rate).RMS()
				require.Greater(t, rms, 0.01, "slice at %d ms is silent", i*1000/rate)
				require.Less(t, rms, 0.5)
			}

			win := rate / 4
			dominated := 0
			windows := 0
			for i := 0; i+win <= len(pcm); i += win / 2 {
				d := detect(pcm[i:i+win], rate)
				at := i * 1000 / rate
				require.Less(t, d.Level(440), 0.05, "440 Hz in window at %d ms", at)
				require.Less(t, d.Level(1000), 0.05, "1 kHz in window at %d ms", at)
				dom := d.Dominant(50, 3000)
				require.NotZero(t, dom)
				if d.Level(dom) >= 0.6 {
					dominated++
				}
				windows++
			}
			require.Less(t, dominated, windows/10, "%d of %d windows dominated by one tone", dominated, windows)
		})
	}
}

func TestMusicLoopIsSeamless(t *testing.T) {
	const rate = 8000
	a, b := NewMusic(rate), NewMusic(rate)
	loopLen := len(musicCache[rate])
	require.Equal(t, int(7.2*rate), loopLen)
	// Independent sources share the buffer but keep their own position.
	readN(a, 100)
	require.Equal(t, readN(NewMusic(rate), 50), readN(b, 50))
	pcm := readN(a, 2*loopLen)
	require.Equal(t, pcm[:loopLen-100], pcm[loopLen:2*loopLen-100])
	// No click at the loop point: the jump is no bigger than typical steps.
	maxStep := 0
	for i := 1; i < len(pcm); i++ {
		maxStep = max(maxStep, absInt(int(pcm[i])-int(pcm[i-1])))
	}
	wrap := loopLen - 100
	require.LessOrEqual(t, absInt(int(pcm[wrap])-int(pcm[wrap-1])), maxStep)
}

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
