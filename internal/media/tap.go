package media

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-voice/switchboard/audio"
)

// TapRate is the sample rate of the PCM a bridge's tap receives.
const TapRate = bridgeRate

// Tap receives the decoded audio of one direction of a bridge: fromA is
// true for what A sends. pcm is 20 ms (or the talker's frame) at TapRate,
// valid only during the call: a tap that keeps it copies it. It runs on
// the talker's read goroutine and must not block.
type Tap func(fromA bool, pcm []int16)

// tapState is a pipe's tap with the decoder only the pipe's read
// goroutine touches.
type tapState struct {
	fn atomic.Pointer[Tap]

	dec      audio.Decoder // owned by the source's read goroutine
	decCodec audio.Codec
}

// SetTap routes each direction's decoded audio to t (nil: none). Only
// what a listener hears from the talker is tapped: a muted or holding
// talker taps nothing (the recording fills silence).
func (br *Bridge) SetTap(t func(fromA bool, pcm []int16)) {
	if t == nil {
		br.ab.tap.fn.Store(nil)
		br.ba.tap.fn.Store(nil)
		return
	}
	fromA := Tap(func(_ bool, pcm []int16) { t(true, pcm) })
	fromB := Tap(func(_ bool, pcm []int16) { t(false, pcm) })
	br.ab.tap.fn.Store(&fromA)
	br.ba.tap.fn.Store(&fromB)
}

// feedTap decodes an audio packet for the tap, if there is one.
func (p *pipe) feedTap(pkt Packet) {
	fn := p.tap.fn.Load()
	if fn == nil {
		return
	}
	t := &p.tap
	if t.dec == nil || t.decCodec != pkt.Format.Codec {
		dec, err := audio.NewDecoder(pkt.Format.Codec, bridgeRate)
		if err != nil {
			return
		}
		t.dec, t.decCodec = dec, pkt.Format.Codec
	}
	pcm, err := t.dec.Decode(pkt.Payload)
	if err != nil {
		return
	}
	(*fn)(false, pcm)
}

// Beep length and tone.
const (
	BeepDuration = 300 * time.Millisecond
	beepFreq     = 1400
	beepLevel    = 0.25
)

// beeper plays short tones over a bridge's forwarded audio.
type beeper struct {
	wg sync.WaitGroup
}

// Beep plays a short tone to both parties in place of what they hear
// (the recording warning). Directions that carry silence or music skip
// it. It returns at once; Stop waits for the tone.
func (br *Bridge) Beep() { br.Announce(beepPCM()) }

// beepPCM is the beep at TapRate, made once and shared (never written).
var beepPCM = sync.OnceValue(func() []int16 {
	pcm := make([]int16, int(BeepDuration/audio.FrameDuration)*audio.FrameSamples(bridgeRate))
	audio.NewTone(beepFreq, bridgeRate, beepLevel).Read(pcm)
	return pcm
})

// Announce plays pcm (at TapRate) once to both parties in place of what
// they hear, as Beep does.
func (br *Bridge) Announce(pcm []int16) {
	select {
	case <-br.stop:
		return
	default:
	}
	d := time.Duration(len(pcm)) * time.Second / bridgeRate
	for _, p := range []*pipe{br.ab, br.ba} {
		if Mode(p.mode.Load()) != Forward || !p.beeping.CompareAndSwap(false, true) {
			continue
		}
		br.beeps.wg.Add(1)
		go func() {
			defer br.beeps.wg.Done()
			defer p.beeping.Store(false)
			p.play(&once{buf: pcm}, d, br.stop)
		}()
	}
}

// once plays a buffer once, then silence. The buffer is shared, never
// written.
type once struct {
	buf []int16
	pos int
}

func (o *once) Read(pcm []int16) {
	n := copy(pcm, o.buf[o.pos:])
	o.pos += n
	clear(pcm[n:])
}

// play sends src to dst every 20 ms for d, until stop closes, or until
// the direction stops forwarding (hold, mute: their generator takes over).
func (p *pipe) play(src audio.Source, d time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(audio.FrameDuration)
	defer t.Stop()
	pcm := make([]int16, audio.FrameSamples(bridgeRate))
	var enc audio.Encoder
	var encCodec audio.Codec
	for el := time.Duration(0); el < d; el += audio.FrameDuration {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if Mode(p.mode.Load()) != Forward {
			return
		}
		out, ok := p.dst.SendFormat()
		if !ok {
			continue
		}
		if enc == nil || encCodec != out.Codec {
			var err error
			if enc, err = audio.NewEncoderWith(out.Codec, bridgeRate, p.encOpts); err != nil {
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
