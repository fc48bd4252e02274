package media

import (
	"log/slog"

	"github.com/switchboard-voice/switchboard/audio"
)

// bridgeRate is the PCM rate used when a bridge has to transcode: the
// telephone band, which every codec here carries.
const bridgeRate = 8000

// Bridge joins two legs' media: what A sends reaches B and back. It keeps no
// goroutine of its own: each direction runs on its source's read goroutine.
type Bridge struct {
	a, b   Endpoint
	ab, ba *pipe
}

// NewBridge starts forwarding between a and b.
func NewBridge(a, b Endpoint, log *slog.Logger) *Bridge {
	br := &Bridge{a: a, b: b, ab: newPipe(b, log), ba: newPipe(a, log)}
	a.SetSink(br.ab.handle)
	b.SetSink(br.ba.handle)
	return br
}

// Stop ends forwarding; the endpoints stay open.
func (br *Bridge) Stop() {
	br.a.SetSink(nil)
	br.b.SetSink(nil)
}

// pipe carries one direction. Only its source's read goroutine calls handle.
type pipe struct {
	dst Endpoint
	log *slog.Logger

	// transcoding state, made on first need
	decCodec audio.Codec
	dec      audio.Decoder
	encCodec audio.Codec
	enc      audio.Encoder
	pcm      []int16 // decoded samples not yet encoded

	lastTS   uint32
	haveLast bool
}

func newPipe(dst Endpoint, log *slog.Logger) *pipe { return &pipe{dst: dst, log: log} }

func (p *pipe) handle(pkt Packet) {
	if pkt.TelephoneEvent {
		return // relayed by the DTMF path, never as audio
	}
	out, ok := p.dst.SendFormat()
	if !ok {
		return
	}
	ticks := p.ticks(pkt, out)
	if pkt.Format.Codec == out.Codec {
		_ = p.dst.WriteAudio(pkt.Payload, ticks)
		return
	}
	p.transcode(pkt, out)
}

// ticks is how long the frame lasts in the outbound clock, from the source's
// timestamp steps (so 10, 20 or 60 ms frames keep their timing).
func (p *pipe) ticks(pkt Packet, out Format) uint32 {
	d := pkt.Timestamp - p.lastTS
	valid := p.haveLast && d > 0 && d < pkt.Format.ClockRate/5
	p.lastTS, p.haveLast = pkt.Timestamp, true
	if !valid || pkt.Format.ClockRate == 0 {
		return out.Ticks()
	}
	return uint32(uint64(d) * uint64(out.ClockRate) / uint64(pkt.Format.ClockRate))
}

func (p *pipe) transcode(pkt Packet, out Format) {
	if p.dec == nil || p.decCodec != pkt.Format.Codec {
		dec, err := audio.NewDecoder(pkt.Format.Codec, bridgeRate)
		if err != nil {
			p.log.Warn("bridge: no decoder", "codec", pkt.Format.Codec, "err", err)
			return
		}
		p.dec, p.decCodec = dec, pkt.Format.Codec
	}
	if p.enc == nil || p.encCodec != out.Codec {
		enc, err := audio.NewEncoder(out.Codec, bridgeRate)
		if err != nil {
			p.log.Warn("bridge: no encoder", "codec", out.Codec, "err", err)
			return
		}
		p.enc, p.encCodec, p.pcm = enc, out.Codec, p.pcm[:0]
	}
	pcm, err := p.dec.Decode(pkt.Payload)
	if err != nil {
		return // a corrupt frame is dropped, the stream goes on
	}
	p.pcm = append(p.pcm, pcm...)
	n := audio.FrameSamples(bridgeRate)
	for len(p.pcm) >= n {
		payload, err := p.enc.Encode(p.pcm[:n])
		p.pcm = append(p.pcm[:0], p.pcm[n:]...)
		if err != nil {
			continue
		}
		_ = p.dst.WriteAudio(payload, out.Ticks())
	}
}
