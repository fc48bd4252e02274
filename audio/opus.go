package audio

import (
	"fmt"

	"gopkg.in/hraban/opus.v2"
)

const (
	// opusBitrate is the target Opus bitrate in bit/s.
	opusBitrate = 32000
	// opusMaxPacket is the largest Opus packet we accept to produce.
	opusMaxPacket = 1500
	// opusMaxFrameMs is the longest frame an Opus packet can carry.
	opusMaxFrameMs = 120
)

// DefaultOpusComplexity is the encoder complexity (0-10) the server uses
// unless configured otherwise. libopus defaults to 10 for a VoIP encoder;
// for the narrowband (8 kHz) audio the bridge re-encodes, 5 takes about
// half the CPU (bench/opus measures it) for a difference no listener of a
// phone call hears.
const DefaultOpusComplexity = 5

// LibopusComplexity is libopus's own default, the baseline bench/opus
// compares with.
const LibopusComplexity = 10

// EncoderOptions tune an encoder; the zero value is not the default: use
// DefaultEncoderOptions.
type EncoderOptions struct {
	// OpusComplexity is the Opus encoder's complexity, 0 (cheapest) to 10.
	OpusComplexity int
}

// DefaultEncoderOptions are what NewEncoder uses.
func DefaultEncoderOptions() EncoderOptions {
	return EncoderOptions{OpusComplexity: DefaultOpusComplexity}
}

type opusEncoder struct {
	enc   *opus.Encoder
	frame int
	buf   []byte
}

func newOpusEncoder(rate int, o EncoderOptions) (*opusEncoder, error) {
	if o.OpusComplexity < 0 || o.OpusComplexity > 10 {
		return nil, fmt.Errorf("audio: opus complexity %d is not 0-10", o.OpusComplexity)
	}
	enc, err := opus.NewEncoder(rate, 1, opus.AppVoIP)
	if err != nil {
		return nil, fmt.Errorf("audio: opus encoder: %w", err)
	}
	if err := enc.SetBitrate(opusBitrate); err != nil {
		return nil, fmt.Errorf("audio: opus bitrate: %w", err)
	}
	if err := enc.SetComplexity(o.OpusComplexity); err != nil {
		return nil, fmt.Errorf("audio: opus complexity: %w", err)
	}
	return &opusEncoder{enc: enc, frame: FrameSamples(rate), buf: make([]byte, opusMaxPacket)}, nil
}

func (e *opusEncoder) Encode(pcm []int16) ([]byte, error) {
	if err := checkFrame(Opus, pcm, e.frame); err != nil {
		return nil, err
	}
	n, err := e.enc.Encode(pcm, e.buf)
	if err != nil {
		return nil, fmt.Errorf("audio: opus encode: %w", err)
	}
	out := make([]byte, n)
	copy(out, e.buf[:n])
	return out, nil
}

type opusDecoder struct {
	dec *opus.Decoder
	buf []int16
}

func newOpusDecoder(rate int) (*opusDecoder, error) {
	dec, err := opus.NewDecoder(rate, 1)
	if err != nil {
		return nil, fmt.Errorf("audio: opus decoder: %w", err)
	}
	return &opusDecoder{dec: dec, buf: make([]int16, rate*opusMaxFrameMs/1000)}, nil
}

func (d *opusDecoder) Decode(payload []byte) ([]int16, error) {
	if len(payload) == 0 {
		return nil, ErrEmptyPayload
	}
	n, err := d.dec.Decode(payload, d.buf)
	if err != nil {
		return nil, fmt.Errorf("audio: opus decode: %w", err)
	}
	out := make([]int16, n)
	copy(out, d.buf[:n])
	return out, nil
}
