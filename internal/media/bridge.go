package media

import (
	"errors"
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

	digits   chan digit // injected events, played one after the other
	beeps    beeper     // tap.go
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// digit is an event injected with SendDigit.
type digit struct {
	to       *pipe
	event    byte
	duration time.Duration
}

// NewBridge starts forwarding between a and b. music makes a fresh music
// source at 8 kHz for each hold.
func NewBridge(a, b Endpoint, music func() audio.Source, log *slog.Logger) *Bridge {
	return newBridge(a, b, music, audio.DefaultEncoderOptions(), log)
}

// newBridge is NewBridge with the encoders' options.
func newBridge(a, b Endpoint, music func() audio.Source, enc audio.EncoderOptions, log *slog.Logger) *Bridge {
	br := &Bridge{a: a, b: b, ab: newPipe(b, music, enc, log), ba: newPipe(a, music, enc, log),
		digits: make(chan digit, maxQueuedDigits), stop: make(chan struct{}), done: make(chan struct{})}
	a.SetSink(br.ab.handle)
	b.SetSink(br.ba.handle)
	go br.playDigits()
	return br
}

// SetModes sets what A hears (from B) and what B hears (from A).
func (br *Bridge) SetModes(toA, toB Mode) {
	br.ba.setMode(toA)
	br.ab.setMode(toB)
}

// Transcoding reports whether either direction has had to transcode
// (the two legs' codecs differ).
func (br *Bridge) Transcoding() bool { return br.ab.transcoding.Load() || br.ba.transcoding.Load() }

// Stop ends forwarding, generators and injected digits; the endpoints
// stay open. It is idempotent.
func (br *Bridge) Stop() {
	br.a.SetSink(nil)
	br.b.SetSink(nil)
	br.ab.setMode(Forward)
	br.ba.setMode(Forward)
	br.stopOnce.Do(func() { close(br.stop) })
	<-br.done
	br.beeps.wg.Wait()
}

// Digit limits and timing of injected events.
const (
	maxQueuedDigits  = 64
	MinDigitDuration = 40 * time.Millisecond
	MaxDigitDuration = 5 * time.Second
	digitInterval    = 50 * time.Millisecond // between the packets of one event
	digitGap         = 50 * time.Millisecond // between events
)

// ErrBadDigit is SendDigit's error for a rune that is not a DTMF digit.
var ErrBadDigit = errors.New("media: not a DTMF digit")

// ErrDigitQueueFull is SendDigit's error when too many digits wait.
var ErrDigitQueueFull = errors.New("media: too many DTMF digits queued")

// SendDigit queues an RFC 4733 event of the given duration toward A (toA)
// or B, as if the other party had sent it: for digits that arrive out of
// band (SIP INFO). Digits play one after the other on a goroutine the
// bridge owns (start, updates every 50 ms, the end packet three times, in
// the listener's telephone-event format); listeners without
// telephone-event, and a direction carrying music on hold, drop them. The
// duration is clamped to [MinDigitDuration, MaxDigitDuration].
func (br *Bridge) SendDigit(toA bool, r rune, duration time.Duration) error {
	ev, ok := audio.DTMFEvent(r)
	if !ok {
		return ErrBadDigit
	}
	to := br.ab
	if toA {
		to = br.ba
	}
	d := digit{to: to, event: ev, duration: min(max(duration, MinDigitDuration), MaxDigitDuration)}
	select {
	case <-br.stop:
		return nil
	default:
	}
	select {
	case br.digits <- d:
		return nil
	default:
		return ErrDigitQueueFull
	}
}

// playDigits plays injected digits until Stop.
func (br *Bridge) playDigits() {
	defer close(br.done)
	var key uint32 // identifies each injected event to the listener's writer
	for {
		select {
		case <-br.stop:
			return
		case d := <-br.digits:
			key++
			if !br.playDigit(d, key) {
				return
			}
		}
	}
}

// playDigit sends one event; it returns false when the bridge stopped.
func (br *Bridge) playDigit(d digit, key uint32) bool {
	out, ok := d.to.dst.EventFormat()
	if !ok || Mode(d.to.mode.Load()) == Music {
		return true
	}
	send := func(el time.Duration, end bool) {
		ticks := uint16(min(uint64(el)*uint64(out.ClockRate)/uint64(time.Second), 0xFFFF))
		_ = d.to.dst.WriteEvent(eventPayload(d.event, end, ticks), key)
	}
	t := time.NewTicker(digitInterval)
	defer t.Stop()
	start := time.Now()
	send(0, false)
	for {
		select {
		case <-br.stop:
			send(time.Since(start), true) // never leave the listener's event open
			return false
		case <-t.C:
		}
		if el := time.Since(start); el < d.duration {
			send(el, false)
			continue
		}
		for range 3 { // RFC 4733 §2.5.1.4: the end packet is sent three times
			send(d.duration, true)
		}
		break
	}
	select {
	case <-br.stop:
		return false
	case <-time.After(digitGap):
		return true
	}
}

// pipe carries one direction to dst. handle runs on the source's read
// goroutine only; the transcoding state below belongs to it.
type pipe struct {
	dst     Endpoint
	music   func() audio.Source
	encOpts audio.EncoderOptions
	log     *slog.Logger
	mode    atomic.Int32

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

	transcoding atomic.Bool // set once this direction has transcoded a frame

	tap     tapState    // the recording's tap (tap.go)
	beeping atomic.Bool // a beep replaces the forwarded audio (tap.go)
}

func newPipe(dst Endpoint, music func() audio.Source, enc audio.EncoderOptions, log *slog.Logger) *pipe {
	return &pipe{dst: dst, music: music, encOpts: enc, log: log}
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
	p.feedTap(pkt)
	if p.beeping.Load() {
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
		enc, err := audio.NewEncoderWith(out.Codec, bridgeRate, p.encOpts)
		if err != nil {
			p.log.Warn("bridge: no encoder", "codec", out.Codec, "err", err)
			return
		}
		p.enc, p.encCodec, p.pcm = enc, out.Codec, p.pcm[:0]
		p.transcoding.Store(true)
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
			if enc, err = audio.NewEncoderWith(out.Codec, bridgeRate, p.encOpts); err != nil {
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
