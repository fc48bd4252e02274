package media

import (
	"strings"
	"sync"

	"github.com/pion/webrtc/v4"

	"github.com/switchboard-voice/switchboard/audio"
)

// Format is a negotiated RTP format: codec, payload type and clock.
type Format struct {
	Codec       audio.Codec
	PayloadType uint8
	ClockRate   uint32
}

// Ticks returns the RTP timestamp increment of one 20 ms frame.
func (f Format) Ticks() uint32 { return f.ClockRate / 50 }

func codecOf(mime string) (audio.Codec, bool) {
	switch strings.ToLower(mime) {
	case strings.ToLower(webrtc.MimeTypeOpus):
		return audio.Opus, true
	case strings.ToLower(webrtc.MimeTypePCMU):
		return audio.PCMU, true
	case strings.ToLower(webrtc.MimeTypePCMA):
		return audio.PCMA, true
	}
	return "", false
}

// outTrack is the server's outgoing audio on one leg. Unlike pion's static
// tracks it owns the RTP header: one SSRC, sequence numbers and timestamps
// that stay continuous whatever the bridge feeds it (the far party, music
// on hold, silence), and the negotiated telephone-event payload type.
type outTrack struct {
	id string

	mu     sync.Mutex
	writer webrtc.TrackLocalWriter
	format Format
	te     Format // PayloadType 0 and ClockRate 0 when not negotiated
	bound  bool
	out    rtpStream // its SSRC is set by Bind
}

func newOutTrack(id string) *outTrack {
	return &outTrack{id: id, out: newRTPStream(0)}
}

// Bind picks the first negotiated audio codec (the remote's preference) and
// the telephone-event format with the same clock, if any.
func (t *outTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	params := ctx.CodecParameters()
	var chosen *webrtc.RTPCodecParameters
	for i := range params {
		if c, ok := codecOf(params[i].MimeType); ok && chosen == nil {
			chosen = &params[i]
			t.format = Format{Codec: c, PayloadType: uint8(params[i].PayloadType), ClockRate: params[i].ClockRate}
		}
	}
	if chosen == nil {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	// Prefer the telephone-event clock that matches the audio codec's; any
	// other negotiated one is better than none.
	t.te = Format{}
	for _, p := range params {
		if !isTelephoneEvent(p.MimeType) {
			continue
		}
		if t.te.ClockRate == 0 || (p.ClockRate == chosen.ClockRate && t.te.ClockRate != chosen.ClockRate) {
			t.te = Format{PayloadType: uint8(p.PayloadType), ClockRate: p.ClockRate}
		}
	}
	t.writer, t.out.ssrc, t.bound = ctx.WriteStream(), uint32(ctx.SSRC()), true
	return *chosen, nil
}

// Unbind stops writing.
func (t *outTrack) Unbind(webrtc.TrackLocalContext) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.bound, t.writer = false, nil
	return nil
}

func (t *outTrack) ID() string                { return t.id }
func (t *outTrack) RID() string               { return "" }
func (t *outTrack) StreamID() string          { return "switchboard" }
func (t *outTrack) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeAudio }

// Format returns the negotiated audio format; ok is false before negotiation.
func (t *outTrack) Format() (Format, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.format, t.bound
}

// writeAudio sends one audio frame that lasts ticks of the clock.
func (t *outTrack) writeAudio(payload []byte, ticks uint32, marker bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.bound {
		return nil
	}
	h := t.out.audio(t.format.PayloadType, ticks, marker)
	_, err := t.writer.WriteRTP(&h, payload)
	return err
}

// EventFormat returns the negotiated telephone-event format, if any.
func (t *outTrack) EventFormat() (Format, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.te, t.bound && t.te.ClockRate != 0
}

// writeEvent sends one RFC 4733 packet, timestamped by rtpStream.event:
// key identifies the event at the source (its RTP timestamp).
func (t *outTrack) writeEvent(payload []byte, key uint32) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.bound || t.te.ClockRate == 0 || len(payload) < 4 {
		return nil
	}
	h := t.out.event(t.te.PayloadType, payload, key)
	_, err := t.writer.WriteRTP(&h, payload)
	return err
}
