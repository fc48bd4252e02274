package media

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-voice/switchboard/audio"
)

// bridgeRate is the PCM rate used when a bridge has to transcode or make
// audio of its own: the telephone band, which every codec here carries.
const bridgeRate = 8000

// Mode is what one direction of a bridge carries to its listener.
type Mode int32

// Modes.
const (
	// Forward carries the talker's audio (and DTMF).
	Forward Mode = iota
	// Silence carries comfort silence: the talker is muted, or the listener
	// has put the call on hold. DTMF still passes.
	Silence
	// Music carries music on hold: the talker has put the call on hold.
	Music
)

// Bridge joins two legs' media: what A sends reaches B and back. Forwarding
// runs on each source's read goroutine; a direction that carries silence or
// music gets a generator goroutine, so the listener's RTP stream (sequence
// numbers, timestamps) never stops.
type Bridge struct {
	a, b   Endpoint
	ab, ba *pipe
}

// NewBridge starts forwarding between a and b. music makes a fresh music
// source at 8 kHz for each hold.
func NewBridge(a, b Endpoint, music func() audio.Source, log *slog.Logger) *Bridge {
	br := &Bridge{a: a, b: b, ab: newPipe(b, music, log), ba: newPipe(a, music, log)}
	a.SetSink(br.ab.handle)
	b.SetSink(br.ba.handle)
	return br
}

// SetModes sets what A hears (from B) and what B hears (from A).
func (br *Bridge) SetModes(toA, toB Mode) {
	br.ba.setMode(toA)
	br.ab.setMode(toB)
}

// Stop ends forwarding and generators; the endpoints stay open.
func (br *Bridge) Stop() {
	br.a.SetSink(nil)
	br.b.SetSink(nil)
	br.ab.setMode(Forward)
	br.ba.setMode(Forward)
}

// pipe carries one direction to dst. handle runs on the source's read
// goroutine only; the transcoding state below belongs to it.
type pipe struct {
	dst   Endpoint
	music func() audio.Source
	log   *slog.Logger
	mode  atomic.Int32

	genMu   sync.Mutex
	genStop chan struct{}
	genDone chan struct{}

	decCodec audio.Codec
	dec      audio.Decoder
	encCodec audio.Codec
	enc      audio.Encoder
	pcm      []int16 // decoded samples not yet encoded

	lastTS   uint32
	haveLast bool
}

func newPipe(dst Endpoint, music func() audio.Source, log *slog.Logger) *pipe {
	return &pipe{dst: dst, music: music, log: log}
}

func (p *pipe) handle(pkt Packet) {
	mode := Mode(p.mode.Load())
	if pkt.TelephoneEvent {
		if mode != Music {
			p.relayEvent(pkt)
		}
		return // never forwarded as audio
	}
	if mode != Forward {
		return
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

// relayEvent forwards an RFC 4733 packet with the listener's payload type,
// its duration field rescaled to the listener's event clock.
func (p *pipe) relayEvent(pkt Packet) {
	out, ok := p.dst.EventFormat()
	if !ok || len(pkt.Payload) < 4 || pkt.Format.ClockRate == 0 {
		return // SIP INFO for peers without telephone-event comes with SIP legs
	}
	payload := append([]byte(nil), pkt.Payload[:4]...)
	if out.ClockRate != pkt.Format.ClockRate {
		d := uint64(payload[2])<<8 | uint64(payload[3])
		d = d * uint64(out.ClockRate) / uint64(pkt.Format.ClockRate)
		if d > 0xFFFF {
			d = 0xFFFF
		}
		payload[2], payload[3] = byte(d>>8), byte(d)
	}
	_ = p.dst.WriteEvent(payload, pkt.Timestamp)
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

// setMode switches the direction, starting or stopping its generator.
func (p *pipe) setMode(m Mode) {
	p.genMu.Lock()
	defer p.genMu.Unlock()
	if p.genStop != nil {
		close(p.genStop)
		<-p.genDone
		p.genStop, p.genDone = nil, nil
	}
	p.mode.Store(int32(m))
	if m == Forward {
		return
	}
	src := audio.Silence()
	if m == Music && p.music != nil {
		src = p.music()
	}
	p.genStop, p.genDone = make(chan struct{}), make(chan struct{})
	go p.generate(src, p.genStop, p.genDone)
}

// generate sends src to dst every 20 ms in dst's codec until stop closes.
func (p *pipe) generate(src audio.Source, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(audio.FrameDuration)
	defer t.Stop()
	pcm := make([]int16, audio.FrameSamples(bridgeRate))
	var enc audio.Encoder
	var encCodec audio.Codec
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		out, ok := p.dst.SendFormat()
		if !ok {
			continue
		}
		if enc == nil || encCodec != out.Codec {
			var err error
			if enc, err = audio.NewEncoder(out.Codec, bridgeRate); err != nil {
				p.log.Warn("bridge: no encoder", "codec", out.Codec, "err", err)
				return
			}
			encCodec = out.Codec
		}
		src.Read(pcm)
		if payload, err := enc.Encode(pcm); err == nil {
			_ = p.dst.WriteAudio(payload, out.Ticks())
		}
	}
}
