package media

import (
	"errors"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/pion/rtcp"
)

// rtcpInterval is the nominal interval between the RTCP reports a SIP leg
// sends: RFC 3550 §6.2's five-second minimum, which a two-party session's
// bandwidth share never lifts. Each interval is drawn from 0.5–1.5 times
// it (§6.3.1), so that many legs started together do not report together.
var rtcpInterval = 5 * time.Second

// rtcpCNAME is the canonical name in the server's SDES items: one name for
// all its streams (RFC 7022 would make it random per session; receivers
// only use it to tie streams of one source together).
const rtcpCNAME = "switchboard"

// rtcpLeg is the RTCP side of an RTPEndpoint (RFC 3550 §6): it sends a
// sender or receiver report, the source description and an RFC 3611
// receiver reference time each interval, and reads the peer's reports to
// learn the round-trip time and how our stream reaches it. Fields are
// guarded by the endpoint's mu.
type rtcpLeg struct {
	conn *net.UDPConn // the RTP port + 1

	sdpAddr netip.AddrPort // from a=rtcp, or the RTP address's next port
	srcAddr netip.AddrPort // where the peer's RTCP last came from
	muxed   bool           // the peer sends RTCP on the RTP port (RFC 5761)

	lastSR, lastRRTR     uint32    // compact NTP stamps of the peer's last SR / RRTR
	lastSRAt, lastRRTRAt time.Time // when they arrived
	prevExpected         uint32    // at our previous report, for its fraction lost
	prevReceived         uint64
	prevSent             uint64 // RTP packets sent by our previous report

	remote RemoteReport
	xr     uint64 // RTCP XR packets read
}

// bindPair binds an even RTP port among count from lo and the odd port
// after it for RTCP, starting at a random pair.
func bindPair(ip netip.Addr, lo, count int) (rtpConn, rtcpConn *net.UDPConn, err error) {
	first := mrand.IntN(count)
	for i := range min(count, maxPortTries) {
		port := lo + 2*((first+i)%count)
		if rtpConn, err = listenUDP(ip, port); err != nil {
			if errors.Is(err, errInUse) {
				continue
			}
			return nil, nil, err
		}
		if rtcpConn, err = listenUDP(ip, port+1); err != nil {
			_ = rtpConn.Close()
			if errors.Is(err, errInUse) {
				continue
			}
			return nil, nil, err
		}
		return rtpConn, rtcpConn, nil
	}
	return nil, nil, err
}

// rtcpLoop reads the peer's RTCP on the RTCP port.
func (e *RTPEndpoint) rtcpLoop() {
	defer e.wg.Done()
	buf, plain := make([]byte, 1500), make([]byte, 1500)
	for {
		n, src, err := e.rtcp.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		e.readRTCP(buf[:n], plain, netip.AddrPortFrom(src.Addr().Unmap(), src.Port()), false)
	}
}

// readRTCP takes in one compound RTCP packet from src; muxed says it came
// on the RTP port. Packets that do not decrypt or parse are dropped.
func (e *RTPEndpoint) readRTCP(pkt, plain []byte, src netip.AddrPort, muxed bool) {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	if e.srtp != nil {
		var err error
		if pkt, err = e.srtp.dec.DecryptRTCP(plain, pkt, nil); err != nil {
			return
		}
	}
	if !e.fromPeerLocked(src) {
		return // anyone can send to the port: only the peer's reports count
	}
	pkts, err := rtcp.Unmarshal(pkt)
	if err != nil {
		return
	}
	// Reports keep a held leg alive: a phone on hold sends no RTP.
	e.lastRecv.Store(int64(time.Since(e.start)))
	e.rtcp.srcAddr, e.rtcp.muxed = src, muxed
	e.takeReportsLocked(pkts, now)
}

// fromPeerLocked says whether src is the peer's host: the address RTP
// latched to, or one its description names (RTCP's port may differ).
func (e *RTPEndpoint) fromPeerLocked(src netip.AddrPort) bool {
	for _, a := range []netip.AddrPort{e.sendAddr, e.sdpAddr, e.rtcp.sdpAddr} {
		if a.IsValid() && a.Addr() == src.Addr() {
			return true
		}
	}
	return false
}

// takeReportsLocked reads the peer's sender reports, its reception report
// on our stream and its XR blocks.
func (e *RTPEndpoint) takeReportsLocked(pkts []rtcp.Packet, now time.Time) {
	ours := e.out.ssrc
	for _, p := range pkts {
		switch r := p.(type) {
		case *rtcp.SenderReport:
			e.rtcp.lastSR, e.rtcp.lastSRAt = uint32(r.NTPTime>>16), now
		case *rtcp.ExtendedReport:
			e.rtcp.xr++
			e.takeXRLocked(r, now)
		}
	}
	var mine []rtcp.Packet
	for _, b := range reportBlocks(pkts) {
		if b.SSRC == ours {
			mine = append(mine, &rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{b}})
		}
	}
	if rtt, ok := reportRTT(mine, now); ok {
		e.rtt.Store(math.Float64bits(rtt))
	}
	if rr, ok := remoteReport(mine, e.format.ClockRate); ok {
		rr.Reports = e.rtcp.remote.Reports + 1
		e.rtcp.remote = rr
	}
}

// takeXRLocked reads the RFC 3611 blocks that concern our stream: a DLRR
// answering our receiver reference time gives the round-trip time
// (§4.5), and VoIP metrics (§4.7) the peer's own round-trip delay when no
// report block yielded one.
func (e *RTPEndpoint) takeXRLocked(r *rtcp.ExtendedReport, now time.Time) {
	for _, blk := range r.Reports {
		switch b := blk.(type) {
		case *rtcp.ReceiverReferenceTimeReportBlock:
			e.rtcp.lastRRTR, e.rtcp.lastRRTRAt = uint32(b.NTPTimestamp>>16), now
		case *rtcp.DLRRReportBlock:
			for _, d := range b.Reports {
				if d.SSRC != e.out.ssrc || d.LastRR == 0 {
					continue
				}
				rr := &rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{{LastSenderReport: d.LastRR, Delay: d.DLRR}}}
				if rtt, ok := reportRTT([]rtcp.Packet{rr}, now); ok {
					e.rtt.Store(math.Float64bits(rtt))
				}
			}
		case *rtcp.VoIPMetricsReportBlock:
			if b.SSRC != e.out.ssrc {
				continue
			}
			if b.RoundTripDelay > 0 && math.Float64frombits(e.rtt.Load()) == 0 {
				e.rtt.Store(math.Float64bits(float64(b.RoundTripDelay)))
			}
		}
	}
}

// rtcpTimer sends a report every interval until the endpoint closes.
func (e *RTPEndpoint) rtcpTimer() {
	defer e.wg.Done()
	t := time.NewTimer(jittered(rtcpInterval))
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			e.sendReport()
			t.Reset(jittered(rtcpInterval))
		}
	}
}

// jittered is d times a random factor in [0.5, 1.5).
func jittered(d time.Duration) time.Duration {
	return d/2 + time.Duration(mrand.Int64N(int64(d)))
}

// sendReport sends one compound report, when the leg has somewhere to
// send it and something to say.
func (e *RTPEndpoint) sendReport() {
	e.mu.Lock()
	defer e.mu.Unlock()
	dst, conn := e.rtcpDestLocked()
	if !dst.IsValid() || e.closed {
		return
	}
	raw, err := rtcp.Marshal(e.reportLocked(time.Now()))
	if err != nil {
		return
	}
	if e.srtp != nil {
		if raw, err = e.srtp.enc.EncryptRTCP(nil, raw, nil); err != nil {
			return
		}
	}
	_, _ = conn.WriteToUDPAddrPort(raw, dst)
}

// rtcpDestLocked is where reports go: back to where the peer's RTCP comes
// from (symmetric RTCP, RFC 4961, as RTP latches), else to a=rtcp or the
// port after the RTP address.
func (e *RTPEndpoint) rtcpDestLocked() (netip.AddrPort, *net.UDPConn) {
	switch {
	case e.rtcp.srcAddr.IsValid() && e.rtcp.muxed:
		return e.rtcp.srcAddr, e.conn
	case e.rtcp.srcAddr.IsValid():
		return e.rtcp.srcAddr, e.rtcp.conn
	case e.rtcp.sdpAddr.IsValid():
		return e.rtcp.sdpAddr, e.rtcp.conn
	case e.sendAddr.IsValid() && e.sendAddr.Port() < 65535:
		return netip.AddrPortFrom(e.sendAddr.Addr(), e.sendAddr.Port()+1), e.rtcp.conn
	}
	return netip.AddrPort{}, nil
}

// reportLocked builds the compound packet (RFC 3550 §6.1): a sender report
// if RTP went out since the last one, else a receiver report, with a
// reception block on the peer's stream once it has sent; the SDES CNAME;
// and an XR with our reference time and, when the peer sent its own, the
// DLRR that lets it measure the round trip.
func (e *RTPEndpoint) reportLocked(now time.Time) []rtcp.Packet {
	var blocks []rtcp.ReceptionReport
	if e.recv.started {
		blocks = append(blocks, e.receptionLocked(now))
	}
	ssrc, sent := e.out.ssrc, e.sent.Load()
	var first rtcp.Packet = &rtcp.ReceiverReport{SSRC: ssrc, Reports: blocks}
	if sent > e.rtcp.prevSent {
		first = &rtcp.SenderReport{SSRC: ssrc, NTPTime: ntpTime(now), RTPTime: e.out.ts,
			PacketCount: uint32(sent), OctetCount: uint32(e.sentBytes.Load()), Reports: blocks}
	}
	e.rtcp.prevSent = sent
	xr := &rtcp.ExtendedReport{SenderSSRC: ssrc, Reports: []rtcp.ReportBlock{
		&rtcp.ReceiverReferenceTimeReportBlock{NTPTimestamp: ntpTime(now)},
	}}
	if e.rtcp.lastRRTR != 0 && e.recv.started {
		xr.Reports = append(xr.Reports, &rtcp.DLRRReportBlock{Reports: []rtcp.DLRRReport{{
			SSRC: e.recv.ssrc, LastRR: e.rtcp.lastRRTR, DLRR: delaySince(e.rtcp.lastRRTRAt, now)}}})
	}
	sdes := &rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{Source: ssrc,
		Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: rtcpCNAME}}}}}
	return []rtcp.Packet{first, sdes, xr}
}

// receptionLocked is our report block on the peer's stream (RFC 3550
// §6.4.1, appendix A.3).
func (e *RTPEndpoint) receptionLocked(now time.Time) rtcp.ReceptionReport {
	r := &e.recv
	expected := r.maxSeq - r.baseSeq + 1
	expInt, recvInt := expected-e.rtcp.prevExpected, r.received-e.rtcp.prevReceived
	e.rtcp.prevExpected, e.rtcp.prevReceived = expected, r.received
	var fraction uint8
	if lostInt := int64(expInt) - int64(recvInt); expInt > 0 && lostInt > 0 {
		fraction = uint8(min(lostInt<<8/int64(expInt), 255))
	}
	b := rtcp.ReceptionReport{SSRC: r.ssrc, FractionLost: fraction,
		TotalLost: uint32(min(max(r.lost(), 0), 0x7FFFFF)), LastSequenceNumber: r.maxSeq, Jitter: uint32(r.jitter)}
	if e.rtcp.lastSR != 0 {
		b.LastSenderReport, b.Delay = e.rtcp.lastSR, delaySince(e.rtcp.lastSRAt, now)
	}
	return b
}

// delaySince is now − t in units of 1/65536 s (RFC 3550's DLSR).
func delaySince(t, now time.Time) uint32 {
	return uint32(now.Sub(t) * 65536 / time.Second)
}

// ntpTime is t as a 64-bit NTP timestamp.
func ntpTime(t time.Time) uint64 {
	secs := uint64(t.Unix() + ntpEpochOffset)
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return secs<<32 | frac
}
