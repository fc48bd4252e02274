// Package recording owns call recordings: a two-channel 16-bit PCM WAV
// writer that follows the call as it goes (no whole-call buffering, the
// header's sizes rewritten every second so a crash loses at most about
// the last second), the storage the files live in, the service that
// starts and finishes recordings for the call core, signed download URLs
// and the retention pruner.
package recording

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// WAV layout of the files written here: a 44-byte canonical header
// (RIFF, "fmt " with 16 bytes of PCM format, data) then interleaved
// little-endian 16-bit frames.
const (
	headerSize    = 44
	riffSizeAt    = 4
	dataSizeAt    = 40
	bitsPerSample = 16
	maxWAVData    = 0xFFFFFFFF - 36
)

// header returns the canonical header for dataLen bytes of audio.
func header(rate, channels int, dataLen uint32) []byte {
	h := make([]byte, headerSize)
	le := binary.LittleEndian
	copy(h[0:], "RIFF")
	le.PutUint32(h[riffSizeAt:], 36+dataLen)
	copy(h[8:], "WAVEfmt ")
	le.PutUint32(h[16:], 16)
	le.PutUint16(h[20:], 1) // PCM
	le.PutUint16(h[22:], uint16(channels))
	le.PutUint32(h[24:], uint32(rate))
	le.PutUint32(h[28:], uint32(rate*channels*2))
	le.PutUint16(h[32:], uint16(channels*2))
	le.PutUint16(h[34:], bitsPerSample)
	copy(h[36:], "data")
	le.PutUint32(h[dataSizeAt:], dataLen)
	return h
}

// Audio is a decoded recording: one slice of samples per channel.
type Audio struct {
	Rate     int
	Channels [][]int16
}

// Frames is the number of samples per channel.
func (a *Audio) Frames() int {
	if len(a.Channels) == 0 {
		return 0
	}
	return len(a.Channels[0])
}

// Decode errors.
var (
	ErrNotWAV      = errors.New("recording: not a RIFF/WAVE file")
	ErrUnsupported = errors.New("recording: unsupported WAV format")
)

// Limits on what Decode accepts.
const (
	maxChannels = 8
	minRate     = 1000
	maxRate     = 384000
)

// Decode parses a 16-bit PCM WAV file. A file cut short (a crash while
// it was written) decodes as far as its whole frames go, and a data chunk
// whose size field lags behind the file (the header is rewritten once a
// second) runs to the end of the file when it is the last chunk.
func Decode(b []byte) (*Audio, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, ErrNotWAV
	}
	le := binary.LittleEndian
	var channels, rate int
	haveFmt := false
	rest := b[12:]
	for len(rest) >= 8 {
		id, size := string(rest[0:4]), uint64(le.Uint32(rest[4:8]))
		body := rest[8:]
		switch id {
		case "fmt ":
			if size < 16 || len(body) < 16 {
				return nil, fmt.Errorf("%w: short fmt chunk", ErrUnsupported)
			}
			if f := le.Uint16(body[0:2]); f != 1 {
				return nil, fmt.Errorf("%w: format code %#x (want PCM)", ErrUnsupported, f)
			}
			channels, rate = int(le.Uint16(body[2:4])), int(le.Uint32(body[4:8]))
			if bits := le.Uint16(body[14:16]); bits != bitsPerSample {
				return nil, fmt.Errorf("%w: %d bits per sample (want 16)", ErrUnsupported, bits)
			}
			if channels < 1 || channels > maxChannels || rate < minRate || rate > maxRate {
				return nil, fmt.Errorf("%w: %d channels at %d Hz", ErrUnsupported, channels, rate)
			}
			if ba := int(le.Uint16(body[12:14])); ba != channels*2 {
				return nil, fmt.Errorf("%w: block align %d", ErrUnsupported, ba)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, fmt.Errorf("%w: data before fmt", ErrUnsupported)
			}
			data := body
			if size < uint64(len(body)) && !lastChunk(body, size) {
				data = body[:size]
			}
			return deinterleave(data, rate, channels), nil
		}
		skip := size + size&1
		if skip >= uint64(len(body)) {
			break
		}
		rest = body[skip:]
	}
	if !haveFmt {
		return nil, fmt.Errorf("%w: no fmt chunk", ErrUnsupported)
	}
	return nil, fmt.Errorf("%w: no data chunk", ErrUnsupported)
}

// lastChunk reports whether what follows a data chunk of size bytes is
// not another chunk (so the bytes are audio the header has not counted
// yet).
func lastChunk(body []byte, size uint64) bool {
	next := body[size+size&1:]
	if size+size&1 >= uint64(len(body)) || len(next) < 8 {
		return true
	}
	for _, c := range next[:4] {
		if c < 0x20 || c > 0x7e {
			return true
		}
	}
	return uint64(binary.LittleEndian.Uint32(next[4:8])) > uint64(len(next)-8)
}

func deinterleave(data []byte, rate, channels int) *Audio {
	frames := len(data) / (2 * channels)
	a := &Audio{Rate: rate, Channels: make([][]int16, channels)}
	for c := range a.Channels {
		a.Channels[c] = make([]int16, frames)
	}
	for i := range frames {
		for c := range channels {
			a.Channels[c][i] = int16(binary.LittleEndian.Uint16(data[(i*channels+c)*2:]))
		}
	}
	return a
}
