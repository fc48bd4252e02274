package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
)

// WAV format codes.
const (
	wavFormatPCM        = 0x0001
	wavFormatFloat      = 0x0003
	wavFormatExtensible = 0xFFFE
)

// Limits that keep hostile files from exhausting memory.
const (
	wavMinRate     = 1000
	wavMaxRate     = 768000
	wavMaxChannels = 32
	wavMaxOutput   = 1 << 27 // samples after resampling (~45 min at 48 kHz)
)

// ErrNotWAV is returned by LoadWAV for files that are not RIFF/WAVE.
var ErrNotWAV = errors.New("audio: not a WAV file")

// wavFormat is the decoded "fmt " chunk.
type wavFormat struct {
	format     uint16
	channels   int
	rate       int
	blockAlign int
	bits       int
}

// LoadWAV reads a PCM WAV file (8/16/24/32-bit integer or 32/64-bit float,
// any rate, any number of channels), mixes it to mono, resamples it to rate
// and returns a Source that loops it forever.
func LoadWAV(path string, rate int) (Source, error) {
	if rate <= 0 {
		return nil, fmt.Errorf("audio: invalid target rate %d", rate)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audio: %w", err)
	}
	pcm, srcRate, err := decodeWAV(data)
	if err != nil {
		return nil, fmt.Errorf("audio: %s: %w", path, err)
	}
	if int64(len(pcm))*int64(rate)/int64(srcRate) > wavMaxOutput {
		return nil, fmt.Errorf("audio: %s: too long", path)
	}
	pcm = Resample(pcm, srcRate, rate)
	if len(pcm) == 0 {
		return nil, fmt.Errorf("audio: %s: too short to resample to %d Hz", path, rate)
	}
	return &loop{buf: pcm}, nil
}

// decodeWAV parses a WAV file into mono PCM and its sample rate.
func decodeWAV(data []byte) ([]int16, int, error) {
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		return nil, 0, ErrNotWAV
	}
	var (
		fmtChunk  *wavFormat
		dataChunk []byte
		haveData  bool
	)
	rest := data[12:]
	for len(rest) >= 8 {
		id := string(rest[0:4])
		size := uint64(binary.LittleEndian.Uint32(rest[4:8]))
		rest = rest[8:]
		body := rest
		if size < uint64(len(rest)) {
			body = rest[:size]
		}
		switch id {
		case "fmt ":
			if fmtChunk != nil {
				return nil, 0, errors.New("duplicate fmt chunk")
			}
			f, err := parseFmt(body)
			if err != nil {
				return nil, 0, err
			}
			fmtChunk = f
		case "data":
			if !haveData {
				dataChunk, haveData = body, true
			}
		}
		skip := size + size&1 // chunks are padded to even sizes
		if skip >= uint64(len(rest)) {
			break
		}
		rest = rest[skip:]
	}
	if fmtChunk == nil {
		return nil, 0, errors.New("missing fmt chunk")
	}
	if !haveData {
		return nil, 0, errors.New("missing data chunk")
	}
	frames := len(dataChunk) / fmtChunk.blockAlign
	if frames == 0 {
		return nil, 0, errors.New("no audio data")
	}
	return mixToMono(dataChunk, frames, fmtChunk), fmtChunk.rate, nil
}

// parseFmt decodes and validates a "fmt " chunk body.
func parseFmt(b []byte) (*wavFormat, error) {
	if len(b) < 16 {
		return nil, errors.New("fmt chunk too short")
	}
	f := &wavFormat{
		format:     binary.LittleEndian.Uint16(b[0:2]),
		channels:   int(binary.LittleEndian.Uint16(b[2:4])),
		rate:       int(binary.LittleEndian.Uint32(b[4:8])),
		blockAlign: int(binary.LittleEndian.Uint16(b[12:14])),
		bits:       int(binary.LittleEndian.Uint16(b[14:16])),
	}
	if f.format == wavFormatExtensible {
		// cbSize(2) validBits(2) channelMask(4) subFormat GUID(16).
		if len(b) < 40 {
			return nil, errors.New("extensible fmt chunk too short")
		}
		f.format = binary.LittleEndian.Uint16(b[24:26])
	}
	switch {
	case f.format == wavFormatPCM && (f.bits == 8 || f.bits == 16 || f.bits == 24 || f.bits == 32):
	case f.format == wavFormatFloat && (f.bits == 32 || f.bits == 64):
	case f.format == wavFormatPCM || f.format == wavFormatFloat:
		return nil, fmt.Errorf("unsupported sample size %d bits (format %d)", f.bits, f.format)
	default:
		return nil, fmt.Errorf("unsupported WAV format code %#x (want PCM or IEEE float)", f.format)
	}
	if f.channels < 1 || f.channels > wavMaxChannels {
		return nil, fmt.Errorf("unsupported channel count %d", f.channels)
	}
	if f.rate < wavMinRate || f.rate > wavMaxRate {
		return nil, fmt.Errorf("unsupported sample rate %d", f.rate)
	}
	if want := f.channels * f.bits / 8; f.blockAlign != want {
		return nil, fmt.Errorf("block align %d does not match %d channels of %d bits", f.blockAlign, f.channels, f.bits)
	}
	return f, nil
}

// mixToMono averages the channels of each frame into one int16 sample
// (16-bit mono data comes through unchanged).
func mixToMono(data []byte, frames int, f *wavFormat) []int16 {
	width := f.bits / 8
	out := make([]int16, frames)
	for i := range out {
		frame := data[i*f.blockAlign:]
		sum := 0.0
		for c := 0; c < f.channels; c++ {
			sum += wavSample(frame[c*width:], f)
		}
		v := math.Round(sum / float64(f.channels) * 32768)
		out[i] = int16(math.Max(math.MinInt16, math.Min(math.MaxInt16, v)))
	}
	return out
}

// wavSample decodes one sample at the start of b to -1..1.
func wavSample(b []byte, f *wavFormat) float64 {
	le := binary.LittleEndian
	if f.format == wavFormatFloat {
		var v float64
		if f.bits == 32 {
			v = float64(math.Float32frombits(le.Uint32(b)))
		} else {
			v = math.Float64frombits(le.Uint64(b))
		}
		if math.IsNaN(v) {
			return 0
		}
		return math.Max(-1, math.Min(1, v))
	}
	switch f.bits {
	case 8:
		return (float64(b[0]) - 128) / 128
	case 16:
		return float64(int16(le.Uint16(b))) / 32768
	case 24:
		v := int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 8
		return float64(v) / (1 << 23)
	default: // 32
		return float64(int32(le.Uint32(b))) / (1 << 31)
	}
}

// WriteWAV writes 16-bit mono PCM at rate to path (for test artifacts).
func WriteWAV(path string, pcm []int16, rate int) error {
	if rate <= 0 {
		return fmt.Errorf("audio: invalid rate %d", rate)
	}
	dataLen := 2 * len(pcm)
	if uint64(dataLen)+36 > math.MaxUint32 {
		return errors.New("audio: too much PCM for a WAV file")
	}
	var buf bytes.Buffer
	buf.Grow(44 + dataLen)
	w := func(v any) { _ = binary.Write(&buf, binary.LittleEndian, v) }
	buf.WriteString("RIFF")
	w(uint32(36 + dataLen))
	buf.WriteString("WAVEfmt ")
	w(uint32(16))
	w(uint16(wavFormatPCM))
	w(uint16(1))        // channels
	w(uint32(rate))     // sample rate
	w(uint32(rate * 2)) // byte rate
	w(uint16(2))        // block align
	w(uint16(16))       // bits per sample
	buf.WriteString("data")
	w(uint32(dataLen))
	w(pcm)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("audio: %w", err)
	}
	return nil
}
