package media

import (
	"errors"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/switchboard-voice/switchboard/audio"
)

// mixRate is the PCM rate of a conference mix: the telephone band, as for
// bridges, so G.711 participants cost no resampling.
const mixRate = bridgeRate

// mixQueue bounds the decoded frames a participant may have waiting for
// the next tick (60 ms): a talker whose packets bunch up loses the oldest
// rather than adding delay for everyone.
const mixQueue = 3

// ErrMixerClosed is returned by Add on a mixer that was closed.
var ErrMixerClosed = errors.New("media: mixer closed")

// ErrAlreadyMixed is returned by Add for an endpoint already in the mix.
var ErrAlreadyMixed = errors.New("media: endpoint already in the mixer")

// Mixer is a conference: every participant hears the sum of all the others
// (N−1 mixing), in its own codec. Each participant's inbound audio is
// decoded on its endpoint's read goroutine and queued; one goroutine owned
// by the mixer takes a frame from each queue every 20 ms, sums, clips and
// encodes per listener. DTMF is not mixed. Close stops it.
type Mixer struct {
	log     *slog.Logger
	encOpts audio.EncoderOptions

	mu     sync.Mutex
	parts  []*mixPart
	closed bool

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	tap *mixTap // the recording's, or nil (mixertap.go)
	ann once    // the announcement playing (mixertap.go)

	// the mixing goroutine's
	snap   []*mixPart
	sum    []int32
	tapOut []int16 // what the tap's first hears
}

// mixPart is one participant. The decoder belongs to the endpoint's read
// goroutine, the encoder and sums to the mixer's; queue is shared under mu.
type mixPart struct {
	ep Endpoint

	mu     sync.Mutex
	queue  [][]int16 // decoded 20 ms frames at mixRate, oldest first
	free   [][]int16 // spent frames for reuse
	muted  bool      // contributes nothing
	deaf   bool      // hears silence (the participant holds)
	closed bool      // removed: the sink drops what is still in flight

	// read goroutine
	dec      audio.Decoder
	decCodec audio.Codec
	pending  []int16 // decoded samples short of a frame

	// mixer goroutine
	enc      audio.Encoder
	encCodec audio.Codec
	frame    []int16 // this tick's contribution, nil when none
	out      []int16
}

// NewMixer starts an empty conference mix with the default encoder options.
func NewMixer(log *slog.Logger) *Mixer { return newMixer(audio.DefaultEncoderOptions(), log) }

// NewMixer starts an empty conference mix with this engine's encoder options.
func (e *Engine) NewMixer() *Mixer { return newMixer(e.encOpts, e.log) }

func newMixer(enc audio.EncoderOptions, log *slog.Logger) *Mixer {
	m := newMixerState(enc, log)
	go m.run()
	return m
}

// newMixerState is a mixer that does not tick by itself (tests call mixOnce).
func newMixerState(enc audio.EncoderOptions, log *slog.Logger) *Mixer {
	return &Mixer{log: log, encOpts: enc, stop: make(chan struct{}), done: make(chan struct{}),
		sum: make([]int32, audio.FrameSamples(mixRate))}
}

// Add makes ep a participant: from the next tick it hears the others and
// they hear it. ep's sink is the mixer's until Remove or Close.
func (m *Mixer) Add(ep Endpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrMixerClosed
	}
	if m.find(ep) >= 0 {
		return ErrAlreadyMixed
	}
	p := &mixPart{ep: ep}
	m.parts = append(m.parts, p)
	ep.SetSink(p.handle)
	return nil
}

// Remove takes ep out of the mix; its endpoint stays open with no sink.
// Removing an endpoint that is not in the mix does nothing.
func (m *Mixer) Remove(ep Endpoint) {
	m.mu.Lock()
	i := m.find(ep)
	if i < 0 {
		m.mu.Unlock()
		return
	}
	p := m.parts[i]
	m.parts = append(m.parts[:i], m.parts[i+1:]...)
	m.mu.Unlock()
	p.detach()
}

// SetMuted has the mixer leave ep's audio out of everyone's mix (server
// mute), or put it back.
func (m *Mixer) SetMuted(ep Endpoint, on bool) { m.with(ep, func(p *mixPart) { p.muted = on }) }

// SetHeld marks ep as holding: it contributes nothing and hears silence.
func (m *Mixer) SetHeld(ep Endpoint, on bool) { m.with(ep, func(p *mixPart) { p.deaf = on }) }

// Len is the number of participants.
func (m *Mixer) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.parts)
}

// Close stops the mix and detaches every participant; the endpoints stay
// open. It is idempotent.
func (m *Mixer) Close() {
	m.mu.Lock()
	parts := m.parts
	m.parts, m.closed = nil, true
	m.mu.Unlock()
	for _, p := range parts {
		p.detach()
	}
	m.stopOnce.Do(func() { close(m.stop) })
	<-m.done
}

func (m *Mixer) find(ep Endpoint) int {
	for i, p := range m.parts {
		if p.ep == ep {
			return i
		}
	}
	return -1
}

func (m *Mixer) with(ep Endpoint, fn func(p *mixPart)) {
	m.mu.Lock()
	i := m.find(ep)
	var p *mixPart
	if i >= 0 {
		p = m.parts[i]
	}
	m.mu.Unlock()
	if p == nil {
		return
	}
	p.mu.Lock()
	fn(p)
	p.mu.Unlock()
}

// run mixes a frame for every 20 ms that passes, until Close. A ticker
// drops the ticks its reader misses, so each tick mixes the frames the
// clock says are due: a mixer held up by a busy machine catches up (its
// listeners' jitter buffers take the burst) instead of falling behind
// real time, which would cut a frame from every listener and recording
// per missed tick.
func (m *Mixer) run() {
	defer close(m.done)
	start := time.Now()
	t := time.NewTicker(audio.FrameDuration)
	defer t.Stop()
	var mixed int64
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		var n int
		n, mixed = framesDue(time.Since(start), mixed)
		for range n {
			m.mixOnce()
		}
	}
}

// mixCatchUp bounds the frames one tick mixes (as mixQueue bounds what a
// talker may have waiting): a mixer further behind skips the rest.
const mixCatchUp = mixQueue

// framesDue returns how many frames to mix once elapsed has passed since
// the mix began and mixed were mixed, and the count mixed afterwards
// (skipped frames count as mixed).
func framesDue(elapsed time.Duration, mixed int64) (int, int64) {
	due := int64(elapsed/audio.FrameDuration) - mixed
	switch {
	case due <= 0:
		return 0, mixed
	case due > mixCatchUp:
		mixed += due - mixCatchUp
		due = mixCatchUp
	}
	return int(due), mixed + due
}

// mixOnce mixes one frame: each participant's queued frame is summed
// once, and each listener gets the sum less its own contribution.
func (m *Mixer) mixOnce() {
	m.mu.Lock()
	m.snap = append(m.snap[:0], m.parts...)
	tap, ann := m.tap, m.nextAnnouncedLocked(len(m.sum))
	m.mu.Unlock()
	parts, sum := m.snap, m.sum
	clear(sum)
	for _, p := range parts {
		p.frame = p.take()
		if p.frame == nil {
			continue
		}
		for i, s := range p.frame {
			sum[i] += int32(s)
		}
	}
	if tap != nil {
		m.feedTap(tap, parts, sum)
	}
	for _, p := range parts {
		m.send(p, sum, ann)
	}
	for _, p := range parts {
		p.recycle()
	}
}

// send encodes and writes p's mix: sum less p's own frame, with ann (an
// announcement's frame, or nil) mixed in, clipped.
func (m *Mixer) send(p *mixPart, sum []int32, ann []int16) {
	out, ok := p.ep.SendFormat()
	if !ok {
		return
	}
	if p.enc == nil || p.encCodec != out.Codec {
		enc, err := audio.NewEncoderWith(out.Codec, mixRate, m.encOpts)
		if err != nil {
			m.log.Warn("mixer: no encoder", "codec", out.Codec, "err", err)
			return
		}
		p.enc, p.encCodec = enc, out.Codec
	}
	if p.out == nil {
		p.out = make([]int16, len(sum))
	}
	p.mu.Lock()
	deaf := p.deaf
	p.mu.Unlock()
	mixFor(p.out, sum, p.frame, deaf)
	if !deaf {
		addAnnounced(p.out, ann)
	}
	if payload, err := p.enc.Encode(p.out); err == nil {
		_ = p.ep.WriteAudio(payload, out.Ticks())
	}
}

// mixFor writes into out what a listener hears: sum without own (nil when
// it contributed nothing), clipped to 16 bits; silence when deaf.
func mixFor(out []int16, sum []int32, own []int16, deaf bool) {
	if deaf {
		clear(out)
		return
	}
	for i, s := range sum {
		if own != nil {
			s -= int32(own[i])
		}
		out[i] = clip(s)
	}
}

func clip(s int32) int16 {
	switch {
	case s > math.MaxInt16:
		return math.MaxInt16
	case s < math.MinInt16:
		return math.MinInt16
	}
	return int16(s)
}

// handle runs on p's endpoint read goroutine: audio is decoded and queued
// in 20 ms frames; DTMF and a muted or holding talker are dropped.
func (p *mixPart) handle(pkt Packet) {
	if pkt.TelephoneEvent || len(pkt.Payload) == 0 {
		return
	}
	p.mu.Lock()
	skip := p.muted || p.deaf || p.closed
	p.mu.Unlock()
	if skip {
		return
	}
	if p.dec == nil || p.decCodec != pkt.Format.Codec {
		dec, err := audio.NewDecoder(pkt.Format.Codec, mixRate)
		if err != nil {
			return
		}
		p.dec, p.decCodec, p.pending = dec, pkt.Format.Codec, p.pending[:0]
	}
	pcm, err := p.dec.Decode(pkt.Payload)
	if err != nil {
		return // a corrupt frame is dropped, the stream goes on
	}
	p.pending = append(p.pending, pcm...)
	n := audio.FrameSamples(mixRate)
	for len(p.pending) >= n {
		p.push(p.pending[:n])
		p.pending = append(p.pending[:0], p.pending[n:]...)
	}
}

// push queues a copy of one frame, dropping the oldest past mixQueue.
func (p *mixPart) push(pcm []int16) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var f []int16
	if k := len(p.free); k > 0 {
		f, p.free = p.free[k-1], p.free[:k-1]
	}
	f = append(f[:0], pcm...)
	if len(p.queue) >= mixQueue {
		p.free = append(p.free, p.queue[0])
		p.queue = append(p.queue[:0], p.queue[1:]...)
	}
	p.queue = append(p.queue, f)
}

// take returns the oldest queued frame, or nil when the talker is silent,
// muted or holding.
func (p *mixPart) take() []int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) == 0 {
		return nil
	}
	f := p.queue[0]
	p.queue = append(p.queue[:0], p.queue[1:]...)
	if p.muted || p.deaf {
		p.free = append(p.free, f)
		return nil
	}
	return f
}

// recycle gives this tick's frame back for reuse.
func (p *mixPart) recycle() {
	if p.frame == nil {
		return
	}
	p.mu.Lock()
	p.free = append(p.free, p.frame)
	p.mu.Unlock()
	p.frame = nil
}

// detach stops p's sink and drops what it queued.
func (p *mixPart) detach() {
	p.ep.SetSink(nil)
	p.mu.Lock()
	p.closed, p.queue = true, nil
	p.mu.Unlock()
}
