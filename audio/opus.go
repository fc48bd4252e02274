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

type opusEncoder struct {
	enc   *opus.Encoder
	frame int
	buf   []byte
}

func newOpusEncoder(rate int) (*opusEncoder, error) {
	enc, err := opus.NewEncoder(rate, 1, opus.AppVoIP)
	if err != nil {
		return nil, fmt.Errorf("audio: opus encoder: %w", err)
	}
	if err := enc.SetBitrate(opusBitrate); err != nil {
		return nil, fmt.Errorf("audio: opus bitrate: %w", err)
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
