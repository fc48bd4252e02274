package softphone

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-voice/switchboard/audio"
)

const mimeTelephoneEvent = "audio/telephone-event"

// detectorWindow is how much recent audio a call's Detector analyses.
const detectorWindow = 500 * time.Millisecond

// DTMF timing: each digit lasts dtmfTicks frames, then dtmfGapTicks frames of
// the normal source.
const (
	dtmfTicks    = 5 // 100 ms
	dtmfGapTicks = 3 // 60 ms
	dtmfVolume   = 10
)

// codecSpec is the one audio codec a phone speaks and its telephone-event.
type codecSpec struct {
	codec audio.Codec
	audio webrtc.RTPCodecParameters
	te    webrtc.RTPCodecParameters
}

func specFor(c audio.Codec) (codecSpec, error) {
	te := func(clock uint32, pt webrtc.PayloadType) webrtc.RTPCodecParameters {
		return webrtc.RTPCodecParameters{PayloadType: pt, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: mimeTelephoneEvent, ClockRate: clock, SDPFmtpLine: "0-16"}}
	}
	switch c {
	case audio.Opus:
		return codecSpec{codec: c, audio: webrtc.RTPCodecParameters{PayloadType: 111,
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000,
				Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}}, te: te(48000, 110)}, nil
	case audio.PCMU:
		return codecSpec{codec: c, audio: webrtc.RTPCodecParameters{PayloadType: 0,
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}},
			te: te(8000, 101)}, nil
	case audio.PCMA:
		return codecSpec{codec: c, audio: webrtc.RTPCodecParameters{PayloadType: 8,
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}},
			te: te(8000, 101)}, nil
	}
	return codecSpec{}, fmt.Errorf("softphone: unsupported codec %q", c)
}

// newAPI builds a pion API that negotiates only spec's codecs and gathers
// host candidates (loopback included) over UDP4, without mDNS.
func newAPI(spec codecSpec) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	for _, c := range []webrtc.RTPCodecParameters{spec.audio, spec.te} {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, err
		}
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		return nil, err
	}
	var s webrtc.SettingEngine
	s.SetIncludeLoopbackCandidate(true)
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir),
		webrtc.WithSettingEngine(s)), nil
}

// localTrack is an audio TrackLocal that takes whole RTP packets, so audio
// frames and RFC 4733 telephone-events share one SSRC and sequence space
// with their own payload types.
type localTrack struct {
	spec codecSpec

	mu    sync.Mutex
	b     binding
	bound bool
}

// binding is what negotiation decided for the track.
type binding struct {
	w     webrtc.TrackLocalWriter
	ssrc  uint32
	pt    uint8
	mime  string
	clock uint32
	te    bool // telephone-event negotiated with the audio clock
	tePT  uint8
}

func (t *localTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	params := ctx.CodecParameters()
	var chosen *webrtc.RTPCodecParameters
	for i := range params {
		if strings.EqualFold(params[i].MimeType, t.spec.audio.MimeType) {
			chosen = &params[i]
			break
		}
	}
	if chosen == nil {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	b := binding{w: ctx.WriteStream(), ssrc: uint32(ctx.SSRC()), pt: uint8(chosen.PayloadType),
		mime: chosen.MimeType, clock: chosen.ClockRate}
	for _, p := range params {
		if strings.EqualFold(p.MimeType, mimeTelephoneEvent) && p.ClockRate == chosen.ClockRate {
			b.te, b.tePT = true, uint8(p.PayloadType)
			break
		}
	}
	t.mu.Lock()
	t.b, t.bound = b, true
	t.mu.Unlock()
	return *chosen, nil
}

func (t *localTrack) Unbind(webrtc.TrackLocalContext) error {
	t.mu.Lock()
	t.b, t.bound = binding{}, false
	t.mu.Unlock()
	return nil
}

func (t *localTrack) binding() (binding, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.b, t.bound
}

func (t *localTrack) ID() string                { return "audio" }
func (t *localTrack) RID() string               { return "" }
func (t *localTrack) StreamID() string          { return "softphone" }
func (t *localTrack) Kind() webrtc.RTPCodecType { return webrtc.RTPCodecTypeAudio }

// endpoint is one call's media: a PeerConnection, the sender and receiver
// goroutines, and what they share with the Call's methods.
type endpoint struct {
	spec     codecSpec
	log      *slog.Logger
	detector *audio.Detector
	received atomic.Uint64
	quit     chan struct{}
	quitOnce sync.Once

	mu        sync.Mutex
	pc        *webrtc.PeerConnection
	track     *localTrack
	source    audio.Source
	sending   bool
	closed    bool
	dtmfQueue []*dtmfReq
	dtmfIn    []rune
	dtmfSeen  map[uint32]struct{}
	wg        sync.WaitGroup
	impair    *impairer // nil: audio leaves as it is made
}

type dtmfReq struct {
	events []byte
	done   chan error // buffered 1
}

func newEndpoint(spec codecSpec, src audio.Source, log *slog.Logger, imp *Impairment) *endpoint {
	if src == nil {
		src = audio.Silence()
	}
	e := &endpoint{spec: spec, log: log, detector: audio.NewDetector(SourceRate, detectorWindow),
		quit: make(chan struct{}), source: src, sending: true, dtmfSeen: map[uint32]struct{}{}}
	if imp != nil {
		e.impair = newImpairer(*imp, e.quit, log)
	}
	return e
}

// start creates the PeerConnection with its audio track (once) and starts
// sending.
func (e *endpoint) start(api *webrtc.API) (*webrtc.PeerConnection, error) {
	if pc := e.peer(); pc != nil {
		return pc, nil
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	track := &localTrack{spec: e.spec}
	sender, err := pc.AddTrack(track)
	if err != nil {
		_ = pc.GracefulClose()
		return nil, err
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		if tr.Kind() == webrtc.RTPCodecTypeAudio {
			e.goMedia(func() { e.receive(tr) })
			// The server's sender reports must be read for the receiver
			// reports to carry LSR/DLSR, from which it measures the RTT.
			e.goMedia(func() { readAll(r) })
		}
	})
	e.mu.Lock()
	if e.closed || e.pc != nil {
		closed := e.closed
		e.mu.Unlock()
		_ = pc.GracefulClose()
		if closed {
			return nil, ErrCallEnded
		}
		return e.peer(), nil
	}
	e.pc, e.track = pc, track
	e.wg.Add(2)
	go e.readRTCP(sender)
	go e.send(track)
	if e.impair != nil {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.impair.run()
		}()
	}
	e.mu.Unlock()
	return pc, nil
}

func (e *endpoint) peer() *webrtc.PeerConnection {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pc
}

func (e *endpoint) goMedia(f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		f()
	}()
}

// close stops sending, closes the PeerConnection and waits for the media
// goroutines. Idempotent.
func (e *endpoint) close() {
	e.quitOnce.Do(func() { close(e.quit) })
	e.mu.Lock()
	e.closed = true
	pc := e.pc
	e.mu.Unlock()
	if pc != nil {
		if err := pc.GracefulClose(); err != nil {
			e.log.Debug("softphone: closing peer connection", "err", err)
		}
	}
	e.wg.Wait()
}

func (e *endpoint) readRTCP(s *webrtc.RTPSender) {
	defer e.wg.Done()
	readAll(s)
}

// readAll reads RTCP until the sender or receiver closes, so pion's
// interceptors see it.
func readAll(r interface {
	Read([]byte) (int, interceptor.Attributes, error)
}) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := r.Read(buf); err != nil {
			return
		}
	}
}

func (e *endpoint) setSource(s audio.Source) {
	if s == nil {
		s = audio.Silence()
	}
	e.mu.Lock()
	e.source = s
	e.mu.Unlock()
}

func (e *endpoint) setSending(on bool) {
	e.mu.Lock()
	e.sending = on
	e.mu.Unlock()
}

// sendState returns the current source, whether to send and, when idle, the
// next queued DTMF request.
func (e *endpoint) sendState(wantDTMF bool) (audio.Source, bool, *dtmfReq) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var req *dtmfReq
	if wantDTMF && e.sending && len(e.dtmfQueue) > 0 {
		req = e.dtmfQueue[0]
		e.dtmfQueue = e.dtmfQueue[1:]
	}
	return e.source, e.sending, req
}

// send writes one RTP packet per 20 ms tick: an encoded source frame, or a
// telephone-event packet while a DTMF digit plays.
func (e *endpoint) send(t *localTrack) {
	defer e.wg.Done()
	enc, err := audio.NewEncoder(e.spec.codec, SourceRate)
	if err != nil {
		e.log.Error("softphone: no encoder", "codec", e.spec.codec, "err", err)
		return
	}
	ticker := time.NewTicker(audio.FrameDuration)
	defer ticker.Stop()
	pcm := make([]int16, audio.FrameSamples(SourceRate))
	seq, ts := uint16(rand.Uint32()), rand.Uint32()
	marker := true
	var play *dtmfPlay
	for {
		select {
		case <-e.quit:
			if play != nil {
				play.req.done <- ErrCallEnded
			}
			return
		case <-ticker.C:
		}
		b, bound := t.binding()
		src, sending, req := e.sendState(play == nil && bound && b.te)
		if req != nil {
			play = &dtmfPlay{req: req}
		}
		step := e.spec.audio.ClockRate / 50
		if bound {
			step = b.clock / 50
		}
		if !bound || !sending {
			ts += step
			marker = true
			continue
		}
		if play != nil && play.k < dtmfTicks {
			seq = play.write(e, b, seq, ts, step)
			ts += step
			marker = true
			continue
		}
		if play != nil && play.advance() {
			play = nil
		}
		src.Read(pcm)
		payload, err := enc.Encode(pcm)
		if err != nil {
			e.log.Warn("softphone: encode", "err", err)
			ts += step
			continue
		}
		h := rtp.Header{Version: 2, Marker: marker, PayloadType: b.pt, SequenceNumber: seq, Timestamp: ts, SSRC: b.ssrc}
		if e.impair != nil {
			e.impair.write(b.w, &h, payload)
		} else {
			writeRTP(e.log, b.w, &h, payload)
		}
		seq++
		ts += step
		marker = false
	}
}

// dtmfPlay is the progress of one DTMF request through its digits.
type dtmfPlay struct {
	req   *dtmfReq
	i     int    // digit
	k     int    // tick within the digit, gap included
	start uint32 // RTP timestamp of the digit's first packet
}

// write sends the telephone-event packet(s) of tick k (the end packet three
// times) and returns the next sequence number.
func (p *dtmfPlay) write(e *endpoint, b binding, seq uint16, ts, step uint32) uint16 {
	if p.k == 0 {
		p.start = ts
	}
	end := p.k == dtmfTicks-1
	dur := uint16(uint32(p.k+1) * step)
	payload := []byte{p.req.events[p.i], dtmfVolume, byte(dur >> 8), byte(dur)}
	n := 1
	if end {
		payload[1] |= 0x80
		n = 3
	}
	for j := range n {
		h := rtp.Header{Version: 2, Marker: p.k == 0 && j == 0, PayloadType: b.tePT, SequenceNumber: seq,
			Timestamp: p.start, SSRC: b.ssrc}
		if _, err := b.w.WriteRTP(&h, payload); err != nil && !errors.Is(err, io.ErrClosedPipe) {
			e.log.Debug("softphone: write dtmf", "err", err)
		}
		seq++
	}
	p.k++
	return seq
}

// advance moves through the gap after a digit; true when the request is done.
func (p *dtmfPlay) advance() bool {
	p.k++
	if p.k < dtmfTicks+dtmfGapTicks {
		return false
	}
	p.i, p.k = p.i+1, 0
	if p.i < len(p.req.events) {
		return false
	}
	p.req.done <- nil
	return true
}

// sendDTMF queues digits as RFC 4733 events and waits until they are sent.
func (e *endpoint) sendDTMF(digits string) error {
	events := make([]byte, 0, len(digits))
	for _, r := range digits {
		ev, ok := audio.DTMFEvent(r)
		if !ok {
			return fmt.Errorf("softphone: invalid DTMF digit %q", r)
		}
		events = append(events, ev)
	}
	e.mu.Lock()
	track, closed := e.track, e.closed
	e.mu.Unlock()
	if closed {
		return ErrCallEnded
	}
	if track == nil {
		return errors.New("softphone: call has no media")
	}
	if b, ok := track.binding(); !ok || !b.te {
		return errors.New("softphone: telephone-event not negotiated")
	}
	if len(events) == 0 {
		return nil
	}
	req := &dtmfReq{events: events, done: make(chan error, 1)}
	e.mu.Lock()
	e.dtmfQueue = append(e.dtmfQueue, req)
	e.mu.Unlock()
	select {
	case err := <-req.done:
		return err
	case <-e.quit:
		return ErrCallEnded
	}
}

// receive reads the remote track: it counts packets, decodes audio into the
// detector and collects telephone-events.
func (e *endpoint) receive(tr *webrtc.TrackRemote) {
	dec, err := audio.NewDecoder(e.spec.codec, SourceRate)
	if err != nil {
		e.log.Error("softphone: no decoder", "codec", e.spec.codec, "err", err)
		return
	}
	mimes := map[uint8]string{}
	for fails := 0; fails < 100; {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			if errors.Is(err, io.EOF) || e.stopped() {
				return
			}
			fails++
			continue
		}
		fails = 0
		e.received.Add(1)
		mime, ok := mimes[pkt.PayloadType]
		if !ok {
			mime = tr.Codec().MimeType // the codec of the packet just read
			mimes[pkt.PayloadType] = mime
		}
		switch {
		case strings.EqualFold(mime, e.spec.audio.MimeType):
			pcm, err := dec.Decode(pkt.Payload)
			if err == nil && len(pcm) > 0 {
				e.detector.Write(pcm)
			}
		case strings.EqualFold(mime, mimeTelephoneEvent):
			e.onTelephoneEvent(pkt)
		}
	}
}

func (e *endpoint) stopped() bool {
	select {
	case <-e.quit:
		return true
	default:
		return false
	}
}

// onTelephoneEvent records an RFC 4733 event once, on its first end packet.
func (e *endpoint) onTelephoneEvent(pkt *rtp.Packet) {
	if len(pkt.Payload) < 4 || pkt.Payload[1]&0x80 == 0 {
		return
	}
	r, ok := audio.DTMFDigit(pkt.Payload[0])
	if !ok {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, seen := e.dtmfSeen[pkt.Timestamp]; seen {
		return
	}
	e.dtmfSeen[pkt.Timestamp] = struct{}{}
	e.dtmfIn = append(e.dtmfIn, r)
}

func (e *endpoint) dtmf() []rune {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]rune(nil), e.dtmfIn...)
}

func (e *endpoint) codecMime() string {
	e.mu.Lock()
	track := e.track
	e.mu.Unlock()
	if track == nil {
		return ""
	}
	b, ok := track.binding()
	if !ok {
		return ""
	}
	return b.mime
}
