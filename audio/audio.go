// Package audio provides the audio primitives shared by the server's media
// bridge and the public Go softphone: G.711 (PCMU/PCMA) and Opus codecs with
// a common frame-oriented interface, PCM sources (tones, silence, built-in
// music on hold, looping WAV files), WAV writing, a Goertzel-based tone
// detector and a simple resampler.
//
// All PCM is signed 16-bit mono. Frames are FrameDuration (20 ms) long, so a
// frame at sample rate r holds FrameSamples(r) = r/50 samples.
//
// Encoders, decoders and sources are not safe for concurrent use; give each
// goroutine (or each stream) its own. A Detector is safe for concurrent use.
package audio

import (
	"errors"
	"fmt"
	"time"

	"github.com/zaf/g711"
)

// Codec names an RTP audio codec.
type Codec string

// Supported codecs.
const (
	Opus Codec = "opus"
	PCMU Codec = "pcmu"
	PCMA Codec = "pcma"
)

// FrameDuration is the packet time used everywhere (20 ms).
const FrameDuration = 20 * time.Millisecond

// FrameSamples returns the samples in one 20 ms mono frame at rate (rate/50).
func FrameSamples(rate int) int {
	return rate / int(time.Second/FrameDuration)
}

// Encoder encodes one 20 ms mono frame of PCM (len == FrameSamples(rate)).
type Encoder interface {
	Encode(pcm []int16) ([]byte, error)
}

// Decoder decodes one RTP payload to mono PCM at the decoder's rate.
type Decoder interface {
	Decode(payload []byte) ([]int16, error)
}

// ErrEmptyPayload is returned by decoders given an empty payload.
var ErrEmptyPayload = errors.New("audio: empty payload")

// checkRate validates the sample rate for codec c.
func checkRate(c Codec, rate int) error {
	switch c {
	case Opus:
		switch rate {
		case 8000, 16000, 24000, 48000:
			return nil
		}
		return fmt.Errorf("audio: opus does not support rate %d (want 8000, 16000, 24000 or 48000)", rate)
	case PCMU, PCMA:
		if rate == 8000 {
			return nil
		}
		return fmt.Errorf("audio: %s does not support rate %d (want 8000)", c, rate)
	default:
		return fmt.Errorf("audio: unknown codec %q", string(c))
	}
}

// NewEncoder returns an encoder for codec c at the given sample rate. Opus
// accepts 8000, 16000, 24000 or 48000 Hz (mono, VoIP application, about
// 32 kbit/s, DefaultEncoderOptions); PCMU and PCMA accept 8000 Hz only.
// Anything else is an error.
func NewEncoder(c Codec, rate int) (Encoder, error) {
	return NewEncoderWith(c, rate, DefaultEncoderOptions())
}

// NewEncoderWith is NewEncoder with options.
func NewEncoderWith(c Codec, rate int, o EncoderOptions) (Encoder, error) {
	if err := checkRate(c, rate); err != nil {
		return nil, err
	}
	switch c {
	case Opus:
		return newOpusEncoder(rate, o)
	case PCMU:
		return &g711Encoder{frame: FrameSamples(rate), enc: g711.EncodeUlawFrame, name: PCMU}, nil
	default: // PCMA; checkRate rejected everything else
		return &g711Encoder{frame: FrameSamples(rate), enc: g711.EncodeAlawFrame, name: PCMA}, nil
	}
}

// NewDecoder returns a decoder for codec c producing PCM at the given rate,
// with the same rate rules as NewEncoder. An Opus decoder decodes any Opus
// stream (whatever rate it was encoded at) straight to rate.
func NewDecoder(c Codec, rate int) (Decoder, error) {
	if err := checkRate(c, rate); err != nil {
		return nil, err
	}
	switch c {
	case Opus:
		return newOpusDecoder(rate)
	case PCMU:
		return &g711Decoder{dec: g711.DecodeUlawFrame}, nil
	default: // PCMA
		return &g711Decoder{dec: g711.DecodeAlawFrame}, nil
	}
}

// checkFrame returns an error unless pcm holds exactly want samples.
func checkFrame(c Codec, pcm []int16, want int) error {
	if len(pcm) != want {
		return fmt.Errorf("audio: %s encoder needs a %v frame of %d samples, got %d",
			c, FrameDuration, want, len(pcm))
	}
	return nil
}

type g711Encoder struct {
	frame int
	enc   func(int16) uint8
	name  Codec
}

func (e *g711Encoder) Encode(pcm []int16) ([]byte, error) {
	if err := checkFrame(e.name, pcm, e.frame); err != nil {
		return nil, err
	}
	out := make([]byte, len(pcm))
	for i, s := range pcm {
		out[i] = e.enc(s)
	}
	return out, nil
}

// g711Decoder decodes payloads of any length (one byte per sample).
type g711Decoder struct {
	dec func(uint8) int16
}

func (d *g711Decoder) Decode(payload []byte) ([]int16, error) {
	if len(payload) == 0 {
		return nil, ErrEmptyPayload
	}
	out := make([]int16, len(payload))
	for i, b := range payload {
		out[i] = d.dec(b)
	}
	return out, nil
}
