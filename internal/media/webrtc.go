package media

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Packet is one inbound RTP packet, with its format resolved.
type Packet struct {
	Format Format
	// TelephoneEvent marks an RFC 4733 event packet (Format.Codec is empty).
	TelephoneEvent bool
	Seq            uint16
	Timestamp      uint32
	Marker         bool
	Payload        []byte
}

// Endpoint is one leg's media as the bridge sees it.
type Endpoint interface {
	// SetSink routes inbound packets to fn (nil drops them). fn runs on the
	// endpoint's read goroutine and must not block. A packet's Payload is
	// the endpoint's read buffer, valid only until fn returns: a sink that
	// keeps it copies it.
	SetSink(fn func(Packet))
	// SendFormat is the negotiated outbound format; ok is false before
	// negotiation completes.
	SendFormat() (Format, bool)
	// WriteAudio sends one frame in SendFormat lasting ticks of its clock.
	WriteAudio(payload []byte, ticks uint32) error
	// EventFormat is the negotiated telephone-event format, if any.
	EventFormat() (Format, bool)
	// WriteEvent sends one RFC 4733 packet in EventFormat; key is the
	// event's source timestamp (the same for all packets of one event).
	WriteEvent(payload []byte, key uint32) error
	Stats() Stats
	Close() error
}

// Stats are a leg's media counters.
type Stats struct {
	Codec           string
	PacketsSent     uint64
	PacketsReceived uint64
	PacketsLost     int64
	JitterMillis    float64
	// BytesSent and BytesReceived count RTP payload bytes.
	BytesSent, BytesReceived uint64
	// LossRuns counts gaps in the received sequence (runs of lost packets).
	LossRuns uint64
	// Remote is the device's last receiver report on what the server
	// sends it (zero Reports: none yet).
	Remote RemoteReport
	// RTTMillis is the round-trip time from the device's last receiver
	// report on our stream (RFC 3550 §6.4.1); 0 when none measured one.
	RTTMillis float64
}

// WebRTCEndpoint terminates a browser or softphone leg: DTLS-SRTP, ICE and
// one audio transceiver.
type WebRTCEndpoint struct {
	pc        *webrtc.PeerConnection
	out       *outTrack
	sink      atomic.Pointer[func(Packet)]
	sent      atomic.Uint64
	sentBytes atomic.Uint64
	wg        sync.WaitGroup

	timeout   time.Duration // media.timeout
	act       activity      // RTP or RTCP last arrived
	iceFailed atomic.Bool
	watch     atomic.Pointer[Watchdog]
	rtt       atomic.Uint64 // float64 bits, ms; 0: none measured

	mu      sync.Mutex
	recv    receiveStats
	remote  RemoteReport // the device's last receiver report on our stream
	inCodec string
	closed  bool
	// negotiating counts description steps under way; a Close that comes
	// during one leaves closing pion to the last of them (closeLater).
	negotiating int
	closeLater  bool
}

// rtpReadBuffer is the largest RTP packet an endpoint reads (pion's own
// receive MTU is 1460).
const rtpReadBuffer = 1500

// ErrClosed is returned by operations on a closed endpoint.
var ErrClosed = errors.New("media: endpoint closed")

// NewWebRTC returns an endpoint with no description yet.
func (e *Engine) NewWebRTC(id string) (*WebRTCEndpoint, error) {
	pc, err := e.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("media: new peer connection: %w", err)
	}
	w := &WebRTCEndpoint{pc: pc, out: newOutTrack(id), timeout: e.timeout}
	w.act.touch()
	pc.OnTrack(w.onTrack)
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		// Failed comes after pion's disconnected→failed grace (ICE) or at
		// once on a DTLS failure: the leg cannot carry media any more.
		if s == webrtc.PeerConnectionStateFailed {
			w.iceFailed.Store(true)
			if wd := w.watch.Load(); wd != nil {
				wd.Fail(CauseICEFailed)
			}
		}
	})
	return w, nil
}

// AnswerOffer applies the device's offer and returns the server's answer,
// with every local candidate embedded.
func (w *WebRTCEndpoint) AnswerOffer(ctx context.Context, offer string) (string, error) {
	if !w.beginStep() {
		return "", ErrClosed
	}
	defer w.endStep()
	if err := w.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	if err := w.addTrack(); err != nil {
		return "", err
	}
	answer, err := w.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	return w.setLocal(ctx, answer)
}

// CreateOffer returns the server's offer, with every local candidate embedded.
func (w *WebRTCEndpoint) CreateOffer(ctx context.Context) (string, error) {
	if !w.beginStep() {
		return "", ErrClosed
	}
	defer w.endStep()
	if err := w.addTrack(); err != nil {
		return "", err
	}
	offer, err := w.pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	return w.setLocal(ctx, offer)
}

// Reoffer answers a new offer from the device on a live leg (ICE restart).
func (w *WebRTCEndpoint) Reoffer(ctx context.Context, offer string) (string, error) {
	if !w.beginStep() {
		return "", ErrClosed
	}
	defer w.endStep()
	if err := w.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	answer, err := w.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	return w.setLocal(ctx, answer)
}

// SetAnswer applies the device's answer to the server's offer.
func (w *WebRTCEndpoint) SetAnswer(answer string) error {
	if !w.beginStep() {
		return ErrClosed
	}
	defer w.endStep()
	if err := w.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	return nil
}

// beginStep starts a description step (offer, answer), unless the
// endpoint is closed.
func (w *WebRTCEndpoint) beginStep() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	w.negotiating++
	return true
}

// endStep ends a description step; the last one closes pion if Close came
// meanwhile. pion cannot be closed under a step: its ICE gatherer, closed
// before the step creates its ICE agent, does not mark itself closed, and
// the agent the step then creates runs forever.
func (w *WebRTCEndpoint) endStep() {
	w.mu.Lock()
	w.negotiating--
	last := w.negotiating == 0 && w.closeLater
	if last {
		w.closeLater = false
	}
	w.mu.Unlock()
	if last {
		_ = w.closePeer()
	}
}

// ErrBadSDP wraps descriptions pion refuses.
var ErrBadSDP = errors.New("media: unusable SDP")

// AddCandidate applies a trickled remote candidate.
func (w *WebRTCEndpoint) AddCandidate(candidate string, mid *string, index *uint16) error {
	return w.pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: candidate, SDPMid: mid, SDPMLineIndex: index})
}

func (w *WebRTCEndpoint) addTrack() error {
	sender, err := w.pc.AddTrack(w.out)
	if err != nil {
		return fmt.Errorf("media: add track: %w", err)
	}
	// The goroutine is counted under mu, so that it is either counted
	// before Close waits or not started at all (Close may run while an
	// offer is still being answered: the call ended meanwhile).
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	w.wg.Add(1)
	w.mu.Unlock()
	go func() { // RTCP must be read for the interceptors (reports, NACK) to work
		defer w.wg.Done()
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			w.act.touch() // receiver reports: a held device still sends them
			if rtt, ok := reportRTT(pkts, time.Now()); ok {
				w.rtt.Store(math.Float64bits(rtt))
			}
			f, _ := w.out.Format()
			if rr, ok := remoteReport(pkts, f.ClockRate); ok {
				w.mu.Lock()
				rr.Reports = w.remote.Reports + 1
				w.remote = rr
				w.mu.Unlock()
			}
		}
	}()
	return nil
}

func (w *WebRTCEndpoint) setLocal(ctx context.Context, desc webrtc.SessionDescription) (string, error) {
	gathered := webrtc.GatheringCompletePromise(w.pc)
	if err := w.pc.SetLocalDescription(desc); err != nil {
		return "", fmt.Errorf("media: set local description: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", fmt.Errorf("media: gathering candidates: %w", ctx.Err())
	}
	return w.pc.LocalDescription().SDP, nil
}

func (w *WebRTCEndpoint) onTrack(track *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	formats := map[uint8]Packet{}
	for _, p := range recv.GetParameters().Codecs {
		pkt := Packet{Format: Format{PayloadType: uint8(p.PayloadType), ClockRate: p.ClockRate}}
		if c, ok := codecOf(p.MimeType); ok {
			pkt.Format.Codec = c
		} else if isTelephoneEvent(p.MimeType) {
			pkt.TelephoneEvent = true
		} else {
			continue
		}
		formats[pkt.Format.PayloadType] = pkt
	}
	w.mu.Lock()
	w.inCodec = track.Codec().MimeType
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.wg.Add(2)
	w.mu.Unlock()
	go func() {
		defer w.wg.Done()
		w.readLoop(track, formats, track.Codec().ClockRate)
	}()
	go func() { // sender reports count as activity too
		defer w.wg.Done()
		for {
			if _, _, err := recv.ReadRTCP(); err != nil {
				return
			}
			w.act.touch()
		}
	}()
}

func (w *WebRTCEndpoint) readLoop(track *webrtc.TrackRemote, formats map[uint8]Packet, clock uint32) {
	// One buffer and one packet for the stream's life (ReadRTP allocated
	// both per packet).
	buf := make([]byte, rtpReadBuffer)
	var p rtp.Packet
	for {
		n, _, err := track.Read(buf)
		if err != nil {
			return
		}
		if p.Unmarshal(buf[:n]) != nil {
			continue
		}
		w.act.touch()
		w.mu.Lock()
		w.recv.add(&p, clock, time.Now())
		w.mu.Unlock()
		pkt, ok := formats[p.PayloadType]
		if !ok {
			continue
		}
		if sink := w.sink.Load(); sink != nil {
			pkt.Seq, pkt.Timestamp, pkt.Marker, pkt.Payload = p.SequenceNumber, p.Timestamp, p.Marker, p.Payload
			(*sink)(pkt)
		}
	}
}

// SetSink implements Endpoint.
func (w *WebRTCEndpoint) SetSink(fn func(Packet)) {
	if fn == nil {
		w.sink.Store(nil)
		return
	}
	w.sink.Store(&fn)
}

// SendFormat implements Endpoint.
func (w *WebRTCEndpoint) SendFormat() (Format, bool) { return w.out.Format() }

// WriteAudio implements Endpoint.
func (w *WebRTCEndpoint) WriteAudio(payload []byte, ticks uint32) error {
	if err := w.out.writeAudio(payload, ticks, false); err != nil {
		return err
	}
	w.sent.Add(1)
	w.sentBytes.Add(uint64(len(payload)))
	return nil
}

// EventFormat implements Endpoint.
func (w *WebRTCEndpoint) EventFormat() (Format, bool) { return w.out.EventFormat() }

// WriteEvent implements Endpoint.
func (w *WebRTCEndpoint) WriteEvent(payload []byte, key uint32) error {
	if err := w.out.writeEvent(payload, key); err != nil {
		return err
	}
	w.sent.Add(1)
	w.sentBytes.Add(uint64(len(payload)))
	return nil
}

// Stats implements Endpoint.
func (w *WebRTCEndpoint) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	f, _ := w.out.Format()
	codec := string(f.Codec)
	if codec == "" {
		codec = w.inCodec
	}
	return Stats{Codec: codec, PacketsSent: w.sent.Load(), PacketsReceived: w.recv.received,
		PacketsLost: w.recv.lost(), JitterMillis: w.recv.jitterMillis(),
		BytesSent: w.sentBytes.Load(), BytesReceived: w.recv.bytes, RTTMillis: math.Float64frombits(w.rtt.Load()),
		LossRuns: w.recv.lossRuns, Remote: w.remote}
}

// Watch reports the leg's media dead to onDead, once: no RTP and no RTCP
// for media.timeout from now on (RTCP flows on hold, so a held leg is not
// timed out), or ICE/DTLS failed. Only the first call watches; Close stops
// the watch.
func (w *WebRTCEndpoint) Watch(onDead func(cause string, idle time.Duration)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.watch.Load() != nil {
		return
	}
	w.act.touch() // the clock starts at the answer, not at the offer
	wd := NewWatchdog(w.timeout, func() (time.Duration, bool) { return w.act.idle(), true }, onDead)
	w.watch.Store(wd)
	if w.iceFailed.Load() {
		wd.Fail(CauseICEFailed)
	}
}

// Close tears the leg down and waits for its goroutines. It is idempotent.
func (w *WebRTCEndpoint) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	later := w.negotiating > 0
	w.closeLater = later
	w.mu.Unlock()
	if wd := w.watch.Load(); wd != nil {
		wd.Stop()
	}
	w.sink.Store(nil)
	if later {
		return nil // the step under way closes pion when it ends
	}
	return w.closePeer()
}

// closePeer closes pion's side and waits for the endpoint's readers.
func (w *WebRTCEndpoint) closePeer() error {
	err := w.pc.Close()
	w.wg.Wait()
	return err
}

// receiveStats follows RFC 3550 A.1 (extended sequence) and A.8 (jitter).
type receiveStats struct {
	lossRuns    uint64 // gaps in the sequence
	received    uint64
	ssrc        uint32 // of the last packet
	bytes       uint64 // payload bytes
	started     bool
	baseSeq     uint32
	maxSeq      uint32 // extended
	jitter      float64
	lastTransit float64
	clock       uint32
}

func (r *receiveStats) add(p *rtp.Packet, clock uint32, at time.Time) {
	r.received++
	r.ssrc = p.SSRC
	r.bytes += uint64(len(p.Payload))
	seq := uint32(p.SequenceNumber)
	if !r.started {
		r.started, r.baseSeq, r.maxSeq, r.clock = true, seq, seq, clock
	} else {
		ext := r.maxSeq&^0xFFFF | seq
		if ext+0x8000 < r.maxSeq {
			ext += 0x10000
		} else if ext > r.maxSeq+0x8000 && ext >= 0x10000 {
			ext -= 0x10000
		}
		if ext > r.maxSeq+1 {
			r.lossRuns++ // a gap: one run of lost packets
		}
		if ext > r.maxSeq {
			r.maxSeq = ext
		}
	}
	if clock == 0 {
		return
	}
	arrival := float64(at.UnixNano()) / 1e9 * float64(clock)
	transit := arrival - float64(p.Timestamp)
	if r.received > 1 {
		d := transit - r.lastTransit
		if d < 0 {
			d = -d
		}
		if d < float64(clock) { // ignore timestamp jumps (source switches)
			r.jitter += (d - r.jitter) / 16
		}
	}
	r.lastTransit = transit
}

func (r *receiveStats) lost() int64 {
	if !r.started {
		return 0
	}
	return int64(r.maxSeq-r.baseSeq+1) - int64(r.received)
}

func (r *receiveStats) jitterMillis() float64 {
	if r.clock == 0 {
		return 0
	}
	return r.jitter / float64(r.clock) * 1000
}
