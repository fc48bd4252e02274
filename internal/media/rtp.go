package media

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/rtp"

	"github.com/switchboard-voice/switchboard/audio"
)

// relatchAfter is how long packets must keep arriving from a new source,
// with none from the latched one, before sending switches to it.
const relatchAfter = time.Second

// maxPortTries bounds the ports NewRTP tries before giving up.
const maxPortTries = 256

// RTPEndpoint is the media of a SIP leg (desk phones, trunks): RTP over
// one UDP socket and RTCP over the next one (rtcp.go), SDP offer/answer, no
// ICE or DTLS. SRTP keyed in
// SDP (SDES, RFC 4568) is used when the remote's description carries a
// usable a=crypto line; SetSRTP makes our offers carry one, or requires it.
//
// Symmetric RTP: the first valid RTP packet latches the send address to
// its source, whatever the SDP said (a phone behind NAT announces its
// private address). Afterwards packets from any other source are dropped,
// unless one source keeps sending for more than relatchAfter while the
// latched one is silent; then sending re-latches to it. A remote
// description with a new address clears the latch.
type RTPEndpoint struct {
	id    string
	log   *slog.Logger
	conn  *net.UDPConn
	local netip.AddrPort // advertised in SDP
	start time.Time
	wg    sync.WaitGroup
	stop  chan struct{} // closed by Close: stops the RTCP timer

	sink      atomic.Pointer[func(Packet)]
	sent      atomic.Uint64
	sentBytes atomic.Uint64
	lastRecv  atomic.Int64  // time.Since(start) at the last RTP or RTCP packet or remote description
	rtt       atomic.Uint64 // float64 bits, ms; 0: none measured

	mu        sync.Mutex // everything below
	closed    bool
	sessID    uint64
	version   uint64
	offering  bool   // a local offer awaits SetAnswer
	remoteDir string // "" until the remote describes its stream
	sdpAddr   netip.AddrPort
	sendAddr  netip.AddrPort // sdpAddr or the latched source
	latched   bool
	candidate netip.AddrPort // a new source, seen since candSince
	candSince time.Duration
	formats   map[uint8]Packet // inbound payload types
	clock     uint32           // inbound audio clock, for jitter
	recv      receiveStats
	rtcp      rtcpLeg

	// SDES-SRTP (srtp.go).
	srtpOffer   bool         // offers are RTP/SAVP with a=crypto
	srtpNeed    bool         // descriptions without a usable a=crypto are refused
	srtpRefused bool         // the last remote description was refused for that
	offered     []cryptoAttr // our a=crypto lines while an offer is pending
	srtp        *srtpSession // nil: plain RTP
	sbuf        []byte       // encrypted outbound packet

	// Outbound RTP, as outTrack: one SSRC, continuous sequence and timestamps.
	out        rtpStream
	format     Format
	te         Format // ClockRate 0 when not negotiated
	negotiated bool
	resync     bool // mark the next audio packet (stream start or resume)
	buf        []byte
}

var _ Endpoint = (*RTPEndpoint)(nil)

// NewRTP binds a UDP socket on localIP at a random free even port in
// [portMin, portMax], and the port after it for RTCP; localIP is also the address announced in SDP, so it
// must be a specific address. log may be nil.
func NewRTP(id string, localIP net.IP, portMin, portMax uint16, log *slog.Logger) (*RTPEndpoint, error) {
	ip, ok := netip.AddrFromSlice(localIP)
	if !ok || ip.Unmap().IsUnspecified() {
		return nil, fmt.Errorf("media: rtp local address %v is not a specific IP", localIP)
	}
	ip = ip.Unmap()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lo := (max(int(portMin), 1) + 1) &^ 1 // first even port >= portMin
	if int(portMax) < lo {
		return nil, fmt.Errorf("media: rtp port range %d..%d has no even port", portMin, portMax)
	}
	conn, rtcpConn, err := bindPair(ip, lo, (int(portMax)-lo)/2+1)
	if err != nil {
		return nil, fmt.Errorf("media: rtp bind on %s: %w", ip, err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	e := &RTPEndpoint{
		id: id, log: log.With("leg", id), conn: conn, start: time.Now(), stop: make(chan struct{}),
		rtcp:    rtcpLeg{conn: rtcpConn},
		local:   netip.AddrPortFrom(ip, uint16(conn.LocalAddr().(*net.UDPAddr).Port)),
		sessID:  mrand.Uint64N(1 << 62),
		formats: defaultReceiveFormats(), clock: 8000, resync: true,
		out: newRTPStream(binary.BigEndian.Uint32(b[:])),
	}
	e.wg.Add(3)
	go e.readLoop()
	go e.rtcpLoop()
	go e.rtcpTimer()
	return e, nil
}

// errInUse is the error of a bind to a port already taken.
var errInUse = syscall.EADDRINUSE

// listenUDP binds ip:port.
func listenUDP(ip netip.Addr, port int) (*net.UDPConn, error) {
	return net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))))
}

// LocalAddr is the socket's address (also announced in SDP).
func (e *RTPEndpoint) LocalAddr() netip.AddrPort { return e.local }

// SetSRTP sets the leg's SRTP policy (SIP over TLS): with offer, the
// server's offers are RTP/SAVP with a=crypto lines; with require, offers
// and answers without a usable a=crypto are refused with ErrSRTPRequired.
// Call it before the first offer or answer.
func (e *RTPEndpoint) SetSRTP(offer, require bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.srtpOffer, e.srtpNeed = offer || require, require
}

// SRTPRefused reports whether the last remote description was refused
// because it had no usable a=crypto while SRTP is required.
func (e *RTPEndpoint) SRTPRefused() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.srtpRefused
}

// SRTPSuite is the negotiated SRTP crypto suite, or "" for plain RTP.
func (e *RTPEndpoint) SRTPSuite() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.srtp == nil {
		return ""
	}
	return e.srtp.local.suite.name
}

// CreateOffer returns the server's offer: PCMU, PCMA and telephone-event
// (payload type 101), sendrecv; RTP/SAVP with a=crypto when SetSRTP asked.
func (e *RTPEndpoint) CreateOffer(context.Context) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return "", ErrClosed
	}
	proto, offered := "RTP/AVP", []cryptoAttr(nil)
	if e.srtpOffer {
		var err error
		if offered, err = offerCrypto(e.srtp); err != nil {
			return "", err
		}
		proto = "RTP/SAVP"
	}
	e.offering, e.offered = true, offered
	e.version++
	l := localSDP{addr: e.local, sessID: e.sessID, version: e.version, proto: proto, direction: dirSendRecv,
		formats: []Format{
			{Codec: audio.PCMU, PayloadType: ptPCMU, ClockRate: 8000},
			{Codec: audio.PCMA, PayloadType: ptPCMA, ClockRate: 8000},
			{PayloadType: ptTE8000, ClockRate: 8000},
		}, crypto: offered}
	return l.marshal(nil, -1), nil
}

// SetAnswer applies the remote's answer to the server's offer.
func (e *RTPEndpoint) SetAnswer(answer string) error {
	e.mu.Lock()
	need := e.srtpNeed
	e.mu.Unlock()
	r, err := parseRemote(answer, need)
	if err != nil {
		e.noteRefusal(err)
		return err
	}
	f, te, err := r.negotiate(func(c audio.Codec) bool { return c == audio.PCMU || c == audio.PCMA })
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	if !e.offering {
		return errors.New("media: rtp answer without an offer")
	}
	var sess *srtpSession
	if len(r.crypto) > 0 {
		local, remote, ok := acceptedCrypto(e.offered, r.crypto)
		if !ok {
			return fmt.Errorf("%w: the answer's a=crypto matches none offered", ErrBadSDP)
		}
		if sess, err = newSRTPSession(local, remote, e.srtp); err != nil {
			return err
		}
	}
	e.offering, e.offered = false, nil
	e.setSRTPLocked(sess)
	e.applyLocked(r, f, te)
	return nil
}

// noteRefusal records whether err refused a remote description for want
// of SRTP.
func (e *RTPEndpoint) noteRefusal(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.srtpRefused = errors.Is(err, ErrSRTPRequired)
}

// setSRTPLocked switches to sess (nil: plain RTP) as a remote description
// is applied.
func (e *RTPEndpoint) setSRTPLocked(sess *srtpSession) {
	if (sess == nil) != (e.srtp == nil) || sess != nil && sess.local.suite != e.srtp.local.suite {
		e.log.Debug("rtp: srtp", "suite", sess.suiteName())
	}
	e.srtp, e.srtpRefused = sess, false
}

// AnswerOffer applies the remote's offer and returns the server's answer:
// the first codec of the offer among PCMU, PCMA and Opus, plus
// telephone-event at that codec's clock when offered. Errors wrap ErrBadSDP.
func (e *RTPEndpoint) AnswerOffer(ctx context.Context, offer string) (string, error) {
	return e.Reoffer(ctx, offer)
}

// Reoffer answers a new offer on a live leg (hold, resume, address or codec
// change); the local port stays the same. On error nothing changes.
func (e *RTPEndpoint) Reoffer(_ context.Context, offer string) (string, error) {
	e.mu.Lock()
	need := e.srtpNeed
	e.mu.Unlock()
	r, err := parseRemote(offer, need)
	if err != nil {
		e.noteRefusal(err)
		return "", err
	}
	f, te, err := r.negotiate(func(audio.Codec) bool { return true })
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return "", ErrClosed
	}
	var sess *srtpSession
	if len(r.crypto) > 0 {
		local, remote, err := answerCrypto(r.crypto, e.srtp)
		if err != nil {
			return "", err
		}
		if sess, err = newSRTPSession(local, remote, e.srtp); err != nil {
			return "", err
		}
	}
	e.offering, e.offered = false, nil
	e.setSRTPLocked(sess)
	e.applyLocked(r, f, te)
	e.version++
	l := localSDP{addr: e.local, sessID: e.sessID, version: e.version, proto: r.proto,
		direction: answerDirection(r.direction), formats: []Format{f}}
	if sess != nil {
		l.crypto = []cryptoAttr{sess.local}
	}
	if te.ClockRate != 0 {
		l.formats = append(l.formats, te)
	}
	return l.marshal(r.desc, r.index), nil
}

// applyLocked makes r the remote description with f and te negotiated.
func (e *RTPEndpoint) applyLocked(r *remoteAudio, f, te Format) {
	e.remoteDir = r.direction
	if r.addr != e.sdpAddr {
		e.log.Debug("rtp: remote address", "sdp", r.addr, "previous", e.sdpAddr)
		e.sdpAddr, e.sendAddr, e.latched, e.candidate = r.addr, r.addr, false, netip.AddrPort{}
		e.rtcp.srcAddr = netip.AddrPort{}
	}
	e.rtcp.sdpAddr = r.rtcp
	if e.negotiated && f != e.format {
		e.log.Debug("rtp: codec change", "from", e.format.Codec, "to", f.Codec)
	}
	if te != e.te {
		e.out.inEvent = false
	}
	e.format, e.te, e.negotiated = f, te, true
	e.formats, e.clock = r.receiveFormats(), f.ClockRate
	// A new description (a resume, say) restarts the inactivity clock.
	e.lastRecv.Store(int64(time.Since(e.start)))
}

// AddCandidate does nothing: plain RTP has no ICE.
func (e *RTPEndpoint) AddCandidate(string, *string, *uint16) error { return nil }

// RemoteDirection is the direction of the remote's last description, from
// its side: "sendrecv", "sendonly", "recvonly" or "inactive" ("" before
// any). A c=0.0.0.0 hold reads as sendonly (or inactive if it was recvonly).
func (e *RTPEndpoint) RemoteDirection() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.remoteDir
}

// InactiveFor is the time since the last RTP packet arrived, or since the
// last remote description was applied (or creation) if that is later.
func (e *RTPEndpoint) InactiveFor() time.Duration {
	return time.Since(e.start) - time.Duration(e.lastRecv.Load())
}

func (e *RTPEndpoint) readLoop() {
	defer e.wg.Done()
	buf, plain := make([]byte, 1500), make([]byte, 1500)
	for {
		n, src, err := e.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			e.log.Debug("rtp: read", "err", err)
			continue
		}
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		var h rtp.Header
		if _, err := h.Unmarshal(buf[:n]); err != nil || h.Version != 2 {
			continue
		}
		// Payload types 72-76 are RTCP multiplexed on the port (RFC 5761).
		if h.PayloadType >= 72 && h.PayloadType <= 76 {
			e.readRTCP(buf[:n], plain, src, true)
			continue
		}
		e.mu.Lock()
		raw, ok := e.unprotectLocked(buf[:n], plain)
		var p rtp.Packet
		if !ok || p.Unmarshal(raw) != nil {
			e.mu.Unlock()
			continue
		}
		now := time.Since(e.start)
		e.lastRecv.Store(int64(now))
		if !e.acceptLocked(src, now) {
			e.mu.Unlock()
			continue
		}
		e.recv.add(&p, e.clock, time.Now())
		pkt, ok := e.formats[p.PayloadType]
		e.mu.Unlock()
		if !ok {
			continue
		}
		if sink := e.sink.Load(); sink != nil {
			pkt.Seq, pkt.Timestamp, pkt.Marker = p.SequenceNumber, p.Timestamp, p.Marker
			pkt.Payload = p.Payload // the read buffer: valid during the call (Endpoint.SetSink)
			(*sink)(pkt)
		}
	}
}

// acceptLocked applies latching to a packet from src and says whether the
// packet is from the stream's source.
func (e *RTPEndpoint) acceptLocked(src netip.AddrPort, now time.Duration) bool {
	switch {
	case !e.latched:
		if src != e.sendAddr {
			e.log.Debug("rtp: latched to source", "source", src, "sdp", e.sdpAddr)
		}
		e.sendAddr, e.latched, e.candidate = src, true, netip.AddrPort{}
		return true
	case src == e.sendAddr:
		e.candidate = netip.AddrPort{}
		return true
	case src != e.candidate:
		e.candidate, e.candSince = src, now
		return false
	case now-e.candSince > relatchAfter:
		e.log.Debug("rtp: re-latched to source", "source", src, "previous", e.sendAddr)
		e.sendAddr, e.candidate = src, netip.AddrPort{}
		return true
	}
	return false
}

// SetSink implements Endpoint.
func (e *RTPEndpoint) SetSink(fn func(Packet)) {
	if fn == nil {
		e.sink.Store(nil)
		return
	}
	e.sink.Store(&fn)
}

// SendFormat implements Endpoint.
func (e *RTPEndpoint) SendFormat() (Format, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.format, e.negotiated
}

// EventFormat implements Endpoint.
func (e *RTPEndpoint) EventFormat() (Format, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.te, e.negotiated && e.te.ClockRate != 0
}

// canSendLocked says whether media may go out: negotiated, an address
// known, and the remote willing to receive (not sendonly or inactive).
func (e *RTPEndpoint) canSendLocked() bool {
	return e.negotiated && !e.closed && e.sendAddr.IsValid() &&
		(e.remoteDir == dirSendRecv || e.remoteDir == dirRecvOnly)
}

// WriteAudio implements Endpoint. Frames that may not be sent (no remote
// address yet, the remote holds) are dropped, but the timestamp advances
// so the stream resumes in time; the first frame after a gap is marked.
func (e *RTPEndpoint) WriteAudio(payload []byte, ticks uint32) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.canSendLocked() {
		e.out.ts += ticks
		e.resync = true
		return nil
	}
	h := e.out.audio(e.format.PayloadType, ticks, e.resync)
	e.resync = false
	return e.sendLocked(&h, payload)
}

// WriteEvent implements Endpoint, timestamped by rtpStream.event as
// outTrack.writeEvent is.
func (e *RTPEndpoint) WriteEvent(payload []byte, key uint32) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.canSendLocked() || e.te.ClockRate == 0 || len(payload) < 4 {
		return nil
	}
	h := e.out.event(e.te.PayloadType, payload, key)
	return e.sendLocked(&h, payload)
}

func (e *RTPEndpoint) sendLocked(h *rtp.Header, payload []byte) error {
	size := h.MarshalSize() + len(payload)
	if cap(e.buf) < size {
		e.buf = make([]byte, size)
	}
	b := e.buf[:size]
	n, err := h.MarshalTo(b)
	if err != nil {
		return err
	}
	copy(b[n:], payload)
	if e.srtp != nil {
		if e.sbuf, err = e.srtp.enc.EncryptRTP(e.sbuf[:0], b, h); err != nil {
			return fmt.Errorf("media: srtp: %w", err)
		}
		b = e.sbuf
	}
	if _, err := e.conn.WriteToUDPAddrPort(b, e.sendAddr); err != nil {
		return fmt.Errorf("media: rtp send: %w", err)
	}
	e.sent.Add(1)
	e.sentBytes.Add(uint64(len(payload)))
	return nil
}

// Stats implements Endpoint.
func (e *RTPEndpoint) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Stats{Codec: string(e.format.Codec), PacketsSent: e.sent.Load(), PacketsReceived: e.recv.received,
		PacketsLost: e.recv.lost(), JitterMillis: e.recv.jitterMillis(),
		BytesSent: e.sentBytes.Load(), BytesReceived: e.recv.bytes, LossRuns: e.recv.lossRuns,
		RTTMillis: math.Float64frombits(e.rtt.Load()), Remote: e.rtcp.remote}
}

// Close closes the socket and waits for the read goroutine. It is
// idempotent.
func (e *RTPEndpoint) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	e.sink.Store(nil)
	close(e.stop)
	err := e.conn.Close()
	_ = e.rtcp.conn.Close()
	e.wg.Wait()
	return err
}
