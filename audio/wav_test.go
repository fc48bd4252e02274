package audio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// wavBytes builds a WAV file from a fmt chunk body and raw sample data.
func wavBytes(fmtBody, data []byte, extra ...[]byte) []byte {
	var b bytes.Buffer
	chunk := func(id string, body []byte) {
		b.WriteString(id)
		_ = binary.Write(&b, binary.LittleEndian, uint32(len(body)))
		b.Write(body)
		if len(body)%2 == 1 {
			b.WriteByte(0)
		}
	}
	b.WriteString("RIFF\x00\x00\x00\x00WAVE")
	for _, e := range extra {
		chunk("LIST", e)
	}
	if fmtBody != nil {
		chunk("fmt ", fmtBody)
	}
	if data != nil {
		chunk("data", data)
	}
	out := b.Bytes()
	binary.LittleEndian.PutUint32(out[4:8], uint32(len(out)-8))
	return out
}

// fmtBody builds a plain 16-byte fmt chunk body.
func fmtBody(format, channels, rate, bits int) []byte {
	b := make([]byte, 16)
	le := binary.LittleEndian
	le.PutUint16(b[0:], uint16(format))
	le.PutUint16(b[2:], uint16(channels))
	le.PutUint32(b[4:], uint32(rate))
	le.PutUint32(b[8:], uint32(rate*channels*bits/8))
	le.PutUint16(b[12:], uint16(channels*bits/8))
	le.PutUint16(b[14:], uint16(bits))
	return b
}

// extensible wraps a plain fmt body as WAVE_FORMAT_EXTENSIBLE.
func extensible(plain []byte) []byte {
	b := append([]byte(nil), plain...)
	sub := binary.LittleEndian.Uint16(b[0:2])
	binary.LittleEndian.PutUint16(b[0:2], wavFormatExtensible)
	ext := make([]byte, 24)
	binary.LittleEndian.PutUint16(ext[0:], 22)                                 // cbSize
	binary.LittleEndian.PutUint16(ext[2:], binary.LittleEndian.Uint16(b[14:])) // valid bits
	binary.LittleEndian.PutUint16(ext[8:], sub)                                // subformat GUID starts with the code
	return append(b, ext...)
}

// encodeSamples renders float samples (interleaved) in the given format.
func encodeSamples(v []float64, format, bits int) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	for _, x := range v {
		switch {
		case format == wavFormatFloat && bits == 32:
			_ = binary.Write(&b, le, float32(x))
		case format == wavFormatFloat:
			_ = binary.Write(&b, le, x)
		case bits == 8:
			b.WriteByte(byte(math.Round(x*127 + 128)))
		case bits == 16:
			_ = binary.Write(&b, le, int16(math.Round(x*32767)))
		case bits == 24:
			s := int32(math.Round(x * (1<<23 - 1)))
			b.Write([]byte{byte(s), byte(s >> 8), byte(s >> 16)})
		default:
			_ = binary.Write(&b, le, int32(math.Round(x*(1<<31-1))))
		}
	}
	return b.Bytes()
}

func writeTemp(t testing.TB, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.wav")
	require.NoError(t, os.WriteFile(path, data, 0o644))
	return path
}

func TestWAVRoundTrip(t *testing.T) {
	tests := []struct {
		srcRate, dstRate int
		freq             float64
	}{
		{8000, 8000, 440},
		{8000, 48000, 440},
		{48000, 8000, 1000},
		{16000, 8000, 440},
		{44100, 8000, 440},
		{22050, 16000, 1000},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d->%d", tc.srcRate, tc.dstRate), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tone.wav")
			// A whole number of cycles keeps the loop seamless.
			pcm := readN(NewTone(tc.freq, tc.srcRate, 0.5), tc.srcRate/2)
			require.NoError(t, WriteWAV(path, pcm, tc.srcRate))
			src, err := LoadWAV(path, tc.dstRate)
			require.NoError(t, err)
			// Read 1.5 s so the loop wraps.
			out := readN(src, tc.dstRate*3/2)
			d := detect(out, tc.dstRate)
			require.InDelta(t, tc.freq, d.Dominant(100, 3000), 10)
			require.Greater(t, d.Level(tc.freq), 0.8)
			require.InDelta(t, 0.5/math.Sqrt2, d.RMS(), 0.03)
		})
	}
}

func TestLoadWAVFormats(t *testing.T) {
	const rate = 16000
	tone := make([]float64, rate/2)
	for i := range tone {
		tone[i] = 0.5 * math.Sin(2*math.Pi*440*float64(i)/rate)
	}
	stereo := make([]float64, 0, 2*len(tone))
	for _, v := range tone {
		stereo = append(stereo, v, 0.5*v)
	}
	tests := []struct {
		name           string
		format, bits   int
		channels       int
		ext            bool
		wantRMS        float64
		extraChunkSize int
	}{
		{"u8", wavFormatPCM, 8, 1, false, 0.354, 0},
		{"s16", wavFormatPCM, 16, 1, false, 0.354, 3},
		{"s24", wavFormatPCM, 24, 1, false, 0.354, 0},
		{"s32", wavFormatPCM, 32, 1, false, 0.354, 0},
		{"f32", wavFormatFloat, 32, 1, false, 0.354, 0},
		{"f64", wavFormatFloat, 64, 1, false, 0.354, 0},
		{"s16 stereo", wavFormatPCM, 16, 2, false, 0.265, 0},
		{"f32 stereo extensible", wavFormatFloat, 32, 2, true, 0.265, 5},
		{"s24 extensible", wavFormatPCM, 24, 1, true, 0.354, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			samples := tone
			if tc.channels == 2 {
				samples = stereo
			}
			f := fmtBody(tc.format, tc.channels, rate, tc.bits)
			if tc.ext {
				f = extensible(f)
			}
			var extra [][]byte
			if tc.extraChunkSize > 0 {
				extra = append(extra, make([]byte, tc.extraChunkSize))
			}
			path := writeTemp(t, wavBytes(f, encodeSamples(samples, tc.format, tc.bits), extra...))
			src, err := LoadWAV(path, 8000)
			require.NoError(t, err)
			d := detect(readN(src, 8000), 8000)
			require.InDelta(t, 440, d.Dominant(100, 3000), 10)
			require.Greater(t, d.Level(440), 0.8)
			require.InDelta(t, tc.wantRMS, d.RMS(), 0.02)
		})
	}
}

func TestLoadWAVErrors(t *testing.T) {
	pcm16 := encodeSamples([]float64{0.1, 0.2, 0.3, 0.4}, wavFormatPCM, 16)
	good := fmtBody(wavFormatPCM, 1, 8000, 16)
	badAlign := fmtBody(wavFormatPCM, 2, 8000, 16)
	binary.LittleEndian.PutUint16(badAlign[12:], 3)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a WAV"},
		{"text", []byte("hello, this is not audio at all"), "not a WAV"},
		{"riff not wave", []byte("RIFF\x04\x00\x00\x00AVI "), "not a WAV"},
		{"no fmt", wavBytes(nil, pcm16), "missing fmt"},
		{"no data", wavBytes(good, nil), "missing data"},
		{"empty data", wavBytes(good, []byte{}), "no audio data"},
		{"short fmt", wavBytes(good[:10], pcm16), "fmt chunk too short"},
		{"mu-law", wavBytes(fmtBody(7, 1, 8000, 8), pcm16), "unsupported WAV format"},
		{"adpcm", wavBytes(fmtBody(2, 1, 8000, 4), pcm16), "unsupported WAV format"},
		{"12-bit", wavBytes(fmtBody(wavFormatPCM, 1, 8000, 12), pcm16), "unsupported sample size"},
		{"float16", wavBytes(fmtBody(wavFormatFloat, 1, 8000, 16), pcm16), "unsupported sample size"},
		{"zero channels", wavBytes(fmtBody(wavFormatPCM, 0, 8000, 16), pcm16), "channel"},
		{"zero rate", wavBytes(fmtBody(wavFormatPCM, 1, 0, 16), pcm16), "sample rate"},
		{"bad align", wavBytes(badAlign, pcm16), "block align"},
		{"short extensible", wavBytes(append(fmtBody(wavFormatExtensible, 1, 8000, 16), 0, 0), pcm16), "extensible"},
		{"truncated header", []byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00"), "fmt chunk too short"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := LoadWAV(writeTemp(t, tc.data), 8000)
			require.ErrorContains(t, err, tc.want)
			require.Nil(t, src)
		})
	}

	_, err := LoadWAV(filepath.Join(t.TempDir(), "missing.wav"), 8000)
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = LoadWAV(writeTemp(t, wavBytes(good, pcm16)), 0)
	require.Error(t, err)
	require.Error(t, WriteWAV(filepath.Join(t.TempDir(), "x.wav"), nil, 0))
}

func TestLoadWAVTruncatedData(t *testing.T) {
	// Streaming writers leave the data size at 0xFFFFFFFF; odd trailing
	// bytes are ignored.
	data := wavBytes(fmtBody(wavFormatPCM, 1, 8000, 16), encodeSamples([]float64{0.5, -0.5}, wavFormatPCM, 16))
	binary.LittleEndian.PutUint32(data[len(data)-8:], 0xFFFFFFFF)
	data = append(data, 0x01)
	src, err := LoadWAV(writeTemp(t, data), 8000)
	require.NoError(t, err)
	require.Equal(t, []int16{16384, -16384, 16384, -16384}, readN(src, 4))
}

func TestWriteWAVHeader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.wav")
	require.NoError(t, WriteWAV(path, []int16{1, -2, 3}, 16000))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Len(t, b, 44+6)
	require.Equal(t, "RIFF", string(b[0:4]))
	require.Equal(t, uint32(len(b)-8), binary.LittleEndian.Uint32(b[4:]))
	require.Equal(t, fmtBody(wavFormatPCM, 1, 16000, 16), b[20:36])
	require.Equal(t, "data", string(b[36:40]))
	require.Equal(t, uint32(6), binary.LittleEndian.Uint32(b[40:]))
	src, err := LoadWAV(path, 16000)
	require.NoError(t, err)
	require.Equal(t, []int16{1, -2, 3, 1, -2}, readN(src, 5))
}

func FuzzLoadWAV(f *testing.F) {
	f.Add(wavBytes(fmtBody(wavFormatPCM, 1, 8000, 16), encodeSamples([]float64{0.1, -0.2, 0.3}, wavFormatPCM, 16)))
	f.Add(wavBytes(extensible(fmtBody(wavFormatFloat, 2, 44100, 32)), encodeSamples([]float64{0.1, -0.2, 0.3, 1}, wavFormatFloat, 32)))
	f.Add(wavBytes(fmtBody(wavFormatPCM, 1, 1000, 8), []byte{1}))
	f.Add([]byte("RIFF\xff\xff\xff\xffWAVEdata\xff\xff\xff\xff"))
	f.Add([]byte("not a wav"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.wav")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		src, err := LoadWAV(path, 8000)
		if err != nil {
			if src != nil {
				t.Fatal("non-nil source with error")
			}
			return
		}
		src.Read(make([]int16, 500))
	})
}
