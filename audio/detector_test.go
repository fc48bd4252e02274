package audio

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// mix adds sources sample by sample.
func mix(n int, srcs ...Source) []int16 {
	out := make([]int16, n)
	for _, s := range srcs {
		for i, v := range readN(s, n) {
			out[i] += v
		}
	}
	return out
}

func TestDetectorSilence(t *testing.T) {
	tests := []struct {
		name string
		pcm  []int16
	}{
		{"nothing written", nil},
		{"zeros", make([]int16, 4000)},
		{"dc offset", mix(4000, NewTone(0, 8000, 0))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDetector(8000, 500*time.Millisecond)
			d.Write(tc.pcm)
			require.Zero(t, d.RMS())
			require.Zero(t, d.Dominant(100, 3000))
			require.Zero(t, d.Level(440))
			require.Zero(t, d.Level(1000))
		})
	}
}

func TestDetectorTones(t *testing.T) {
	tests := []struct {
		name    string
		rate    int
		window  time.Duration
		pcm     []int16
		levels  map[float64]float64 // minimum Level per frequency
		absent  []float64           // frequencies with Level < 0.05
		dominnt float64
		rms     float64
	}{
		{
			name: "440", rate: 8000, window: 250 * time.Millisecond,
			pcm:    readN(NewTone(440, 8000, 0.5), 8000),
			levels: map[float64]float64{440: 0.9}, absent: []float64{1000, 400, 480},
			dominnt: 440, rms: 0.354,
		},
		{
			name: "1000 at 48k", rate: 48000, window: 100 * time.Millisecond,
			pcm:    readN(NewTone(1000, 48000, 0.3), 48000),
			levels: map[float64]float64{1000: 0.9}, absent: []float64{440, 1100},
			dominnt: 1000, rms: 0.212,
		},
		{
			name: "440+1000", rate: 8000, window: 250 * time.Millisecond,
			pcm:    mix(8000, NewTone(440, 8000, 0.3), NewTone(1000, 8000, 0.3)),
			levels: map[float64]float64{440: 0.4, 1000: 0.4}, absent: []float64{700, 2000},
			rms: 0.3,
		},
		{
			name: "440 loud + 1000 quiet", rate: 16000, window: 200 * time.Millisecond,
			pcm:    mix(16000, NewTone(440, 16000, 0.4), NewTone(1000, 16000, 0.2)),
			levels: map[float64]float64{440: 0.7, 1000: 0.15}, absent: []float64{350},
			dominnt: 440, rms: 0.316,
		},
		{
			name: "off-grid 1234 Hz", rate: 8000, window: time.Second,
			pcm:    readN(NewTone(1234, 8000, 0.5), 8000),
			levels: map[float64]float64{1234: 0.9}, absent: []float64{440, 1000},
			dominnt: 1234, rms: 0.354,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDetector(tc.rate, tc.window)
			d.Write(tc.pcm)
			for f, min := range tc.levels {
				require.Greater(t, d.Level(f), min, "Level(%v)", f)
				require.LessOrEqual(t, d.Level(f), 1.0)
			}
			for _, f := range tc.absent {
				require.Less(t, d.Level(f), 0.05, "Level(%v)", f)
			}
			if tc.dominnt != 0 {
				require.InDelta(t, tc.dominnt, d.Dominant(100, 3000), 3)
			}
			require.InDelta(t, tc.rms, d.RMS(), 0.01)
			require.Equal(t, int64(len(tc.pcm)), d.Samples())
		})
	}
}

func TestDetectorMixedDominantRange(t *testing.T) {
	d := NewDetector(8000, 250*time.Millisecond)
	d.Write(mix(4000, NewTone(440, 8000, 0.3), NewTone(1000, 8000, 0.3)))
	require.InDelta(t, 440, d.Dominant(100, 700), 3)
	require.InDelta(t, 1000, d.Dominant(700, 3000), 3)
	require.Zero(t, d.Dominant(3000, 100))
	// Out-of-range frequencies have no level.
	require.Zero(t, d.Level(0))
	require.Zero(t, d.Level(-5))
	require.Zero(t, d.Level(4000))
}

func TestDetectorWindow(t *testing.T) {
	d := NewDetector(8000, 100*time.Millisecond)
	// The window keeps only the most recent audio, across writes of any size.
	for _, n := range []int{3, 160, 799, 800, 801, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			d.Write(readN(NewTone(440, 8000, 0.5), 4000))
			src := NewTone(1000, 8000, 0.5)
			for written := 0; written < 800; written += n {
				d.Write(readN(src, n))
			}
			require.Greater(t, d.Level(1000), 0.9)
			require.Less(t, d.Level(440), 0.01)
		})
	}
	before := d.Samples()
	d.Reset()
	require.Zero(t, d.RMS())
	require.Zero(t, d.Dominant(100, 3000))
	require.Equal(t, before, d.Samples())
	// A partly filled window is analysed as far as it goes.
	d.Write(readN(NewTone(440, 8000, 0.5), 400))
	require.Greater(t, d.Level(440), 0.9)
	require.InDelta(t, 0.354, d.RMS(), 0.01)
}

func TestDetectorConcurrent(t *testing.T) {
	d := NewDetector(8000, 200*time.Millisecond)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		src := NewTone(440, 8000, 0.5)
		for i := 0; i < 200; i++ {
			d.Write(readN(src, 160))
		}
	}()
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				_ = d.Level(440)
				_ = d.RMS()
				_ = d.Dominant(400, 500)
				_ = d.Samples()
			}
		}()
	}
	wg.Wait()
	require.Equal(t, int64(200*160), d.Samples())
	require.Greater(t, d.Level(440), 0.9)
}

func BenchmarkDetectorLevel(b *testing.B) {
	d := NewDetector(8000, 250*time.Millisecond)
	d.Write(readN(NewTone(440, 8000, 0.5), 2000))
	b.ReportAllocs()
	for b.Loop() {
		_ = d.Level(440)
	}
}
