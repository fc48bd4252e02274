package audio

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestResample(t *testing.T) {
	tests := []struct {
		from, to int
		freq     float64
	}{
		{8000, 48000, 440},
		{48000, 8000, 440},
		{8000, 16000, 1000},
		{16000, 8000, 1000},
		{44100, 8000, 440},
		{8000, 44100, 1000},
		{48000, 16000, 1000},
		{24000, 16000, 440},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d->%d", tc.from, tc.to), func(t *testing.T) {
			in := readN(NewTone(tc.freq, tc.from, 0.5), tc.from/2)
			out := Resample(in, tc.from, tc.to)
			require.Len(t, out, tc.to/2)
			d := detect(out, tc.to)
			require.InDelta(t, tc.freq, d.Dominant(100, 3000), 5)
			require.Greater(t, d.Level(tc.freq), 0.9)
			require.InDelta(t, 0.354, d.RMS(), 0.03)
		})
	}
}

func TestResampleRoundTrip(t *testing.T) {
	for _, freq := range []float64{440, 1000} {
		in := readN(NewTone(freq, 8000, 0.5), 8000)
		up := Resample(in, 8000, 48000)
		require.Len(t, up, 48000)
		back := Resample(up, 48000, 8000)
		require.Len(t, back, 8000)
		d := detect(back, 8000)
		require.InDelta(t, freq, d.Dominant(100, 3000), 5)
		require.Greater(t, d.Level(freq), 0.9)
	}
}

func TestResampleAliasing(t *testing.T) {
	// A 7 kHz tone at 48 kHz cannot be represented at 8 kHz; the averaging
	// must keep most of its 1 kHz alias out.
	in := readN(NewTone(7000, 48000, 0.5), 48000)
	out := Resample(in, 48000, 8000)
	require.Less(t, detect(out, 8000).RMS(), 0.354*0.2)
}

func TestResampleEdgeCases(t *testing.T) {
	require.Nil(t, Resample([]int16{1, 2}, 0, 8000))
	require.Nil(t, Resample([]int16{1, 2}, 8000, -1))
	in := []int16{1, 2, 3}
	same := Resample(in, 8000, 8000)
	require.Equal(t, in, same)
	same[0] = 9
	require.Equal(t, int16(1), in[0], "must not alias the input")
	require.Empty(t, Resample(nil, 8000, 48000))
	require.Empty(t, Resample([]int16{5}, 48000, 8000))
	require.Equal(t, []int16{5, 5, 5, 5, 5, 5}, Resample([]int16{5}, 8000, 48000))
	require.Equal(t, []int16{2, 4}, Resample([]int16{1, 3, 3, 5}, 16000, 8000))
	up := Resample([]int16{0, 100}, 8000, 16000)
	require.Equal(t, []int16{0, 50, 100, 100}, up)
	loud := make([]int16, 100)
	for i := range loud {
		loud[i] = math.MaxInt16
	}
	for _, v := range Resample(loud, 44100, 8000) {
		require.Equal(t, int16(math.MaxInt16), v)
	}
}
