package audio

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// roundTrip encodes seconds of a tone frame by frame with an encoder at
// encRate and decodes it at decRate, returning the decoded PCM.
func roundTrip(t *testing.T, c Codec, encRate, decRate int, freq float64, frames int) []int16 {
	t.Helper()
	enc, err := NewEncoder(c, encRate)
	require.NoError(t, err)
	dec, err := NewDecoder(c, decRate)
	require.NoError(t, err)
	src := NewTone(freq, encRate, 0.5)
	var out []int16
	for i := 0; i < frames; i++ {
		payload, err := enc.Encode(readN(src, FrameSamples(encRate)))
		require.NoError(t, err)
		require.NotEmpty(t, payload)
		pcm, err := dec.Decode(payload)
		require.NoError(t, err)
		require.Len(t, pcm, FrameSamples(decRate))
		out = append(out, pcm...)
	}
	return out
}

func TestCodecRoundTrip(t *testing.T) {
	tests := []struct {
		codec Codec
		rate  int
		skip  int // warm-up frames to ignore
	}{
		{PCMU, 8000, 0},
		{PCMA, 8000, 0},
		{Opus, 8000, 5},
		{Opus, 16000, 5},
		{Opus, 24000, 5},
		{Opus, 48000, 5},
	}
	for _, tc := range tests {
		for _, freq := range []float64{440, 1000} {
			t.Run(fmt.Sprintf("%s/%d/%v", tc.codec, tc.rate, freq), func(t *testing.T) {
				pcm := roundTrip(t, tc.codec, tc.rate, tc.rate, freq, 50)
				pcm = pcm[tc.skip*FrameSamples(tc.rate):]
				d := detect(pcm, tc.rate)
				require.InDelta(t, freq, d.Dominant(100, 3000), 10)
				require.Greater(t, d.Level(freq), 0.5)
				require.InDelta(t, 0.5/1.414, d.RMS(), 0.1)
			})
		}
	}
}

func TestOpusDecodeAt8kFrom48k(t *testing.T) {
	for _, freq := range []float64{440, 1000} {
		pcm := roundTrip(t, Opus, 48000, 8000, freq, 50)
		d := detect(pcm[5*FrameSamples(8000):], 8000)
		require.InDelta(t, freq, d.Dominant(100, 3000), 10)
		require.Greater(t, d.Level(freq), 0.5)
	}
}

func TestG711SilenceValues(t *testing.T) {
	tests := []struct {
		codec Codec
		want  byte
	}{
		{PCMU, 0xFF},
		{PCMA, 0xD5},
	}
	for _, tc := range tests {
		t.Run(string(tc.codec), func(t *testing.T) {
			enc, err := NewEncoder(tc.codec, 8000)
			require.NoError(t, err)
			payload, err := enc.Encode(make([]int16, 160))
			require.NoError(t, err)
			require.Len(t, payload, 160)
			for _, b := range payload {
				require.Equal(t, tc.want, b)
			}
			dec, err := NewDecoder(tc.codec, 8000)
			require.NoError(t, err)
			pcm, err := dec.Decode(payload)
			require.NoError(t, err)
			d := detect(pcm, 8000)
			require.Less(t, d.RMS(), 0.001)
			require.Zero(t, d.Dominant(100, 3000))
		})
	}
}

func TestCodecBadConfig(t *testing.T) {
	tests := []struct {
		codec Codec
		rate  int
	}{
		{"g729", 8000},
		{"", 8000},
		{"OPUS", 48000},
		{Opus, 44100},
		{Opus, 12000},
		{Opus, 0},
		{PCMU, 16000},
		{PCMA, 48000},
		{PCMA, -8000},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%d", tc.codec, tc.rate), func(t *testing.T) {
			enc, err := NewEncoder(tc.codec, tc.rate)
			require.Error(t, err)
			require.Nil(t, enc)
			dec, err := NewDecoder(tc.codec, tc.rate)
			require.Error(t, err)
			require.Nil(t, dec)
		})
	}
}

func TestEncodeWrongFrameLength(t *testing.T) {
	tests := []struct {
		codec Codec
		rate  int
		n     int
	}{
		{PCMU, 8000, 159},
		{PCMA, 8000, 320},
		{PCMU, 8000, 0},
		{Opus, 8000, 960},
		{Opus, 48000, 160},
		{Opus, 16000, 0},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%d/%d", tc.codec, tc.rate, tc.n), func(t *testing.T) {
			enc, err := NewEncoder(tc.codec, tc.rate)
			require.NoError(t, err)
			_, err = enc.Encode(make([]int16, tc.n))
			require.ErrorContains(t, err, "samples")
		})
	}
}

func TestDecodeBadPayload(t *testing.T) {
	for _, c := range []Codec{PCMU, PCMA, Opus} {
		dec, err := NewDecoder(c, 8000)
		require.NoError(t, err)
		_, err = dec.Decode(nil)
		require.ErrorIs(t, err, ErrEmptyPayload)
	}
	dec, err := NewDecoder(Opus, 48000)
	require.NoError(t, err)
	// TOC code 3 with a frame count of zero is invalid.
	_, err = dec.Decode([]byte{0x03, 0x00})
	require.Error(t, err)
}

func TestFrameSamples(t *testing.T) {
	require.Equal(t, 20*time.Millisecond, FrameDuration)
	for rate, want := range map[int]int{8000: 160, 16000: 320, 24000: 480, 48000: 960} {
		require.Equal(t, want, FrameSamples(rate))
	}
}

func BenchmarkOpusEncode8k(b *testing.B) {
	enc, err := NewEncoder(Opus, 8000)
	require.NoError(b, err)
	pcm := readN(NewTone(440, 8000, 0.5), FrameSamples(8000))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := enc.Encode(pcm); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpusDecode8k(b *testing.B) {
	enc, err := NewEncoder(Opus, 8000)
	require.NoError(b, err)
	dec, err := NewDecoder(Opus, 8000)
	require.NoError(b, err)
	src := NewTone(440, 8000, 0.5)
	var payloads [][]byte
	for i := 0; i < 50; i++ {
		p, err := enc.Encode(readN(src, FrameSamples(8000)))
		require.NoError(b, err)
		payloads = append(payloads, p)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := dec.Decode(payloads[i%len(payloads)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkPCMUEncode(b *testing.B) {
	enc, err := NewEncoder(PCMU, 8000)
	require.NoError(b, err)
	pcm := readN(NewTone(440, 8000, 0.5), FrameSamples(8000))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := enc.Encode(pcm); err != nil {
			b.Fatal(err)
		}
	}
}
