package media

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

// fastRTCP makes SIP legs report every few milliseconds for one test.
func fastRTCP(t *testing.T) {
	prev := rtcpInterval
	rtcpInterval = 30 * time.Millisecond
	t.Cleanup(func() { rtcpInterval = prev })
}

func TestRTCPBetweenEndpoints(t *testing.T) {
	fastRTCP(t)
	a, b := rtpPair(t)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // both sides talk, as a bridged call does
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = a.WriteAudio(make([]byte, 160), 160)
				_ = b.WriteAudio(make([]byte, 160), 160)
			}
		}
	}()
	defer func() { close(stop); <-done }()
	for _, e := range []*RTPEndpoint{a, b} {
		require.Eventually(t, func() bool {
			s := e.Stats()
			return s.RTTMillis > 0 && s.Remote.Reports >= 2
		}, 5*time.Second, 10*time.Millisecond, "%s measures RTT and hears reports", e.id)
		s := e.Stats()
		require.Less(t, s.RTTMillis, 500.0, "loopback: a few ms, more on a busy machine; a unit slip is far more")
		require.Zero(t, s.Remote.LossPct)
	}
}

// rtcpPhone is a bare UDP device with an RTP socket and the RTCP one after
// it, negotiated with an endpoint.
type rtcpPhone struct {
	*phone
	rtcpConn *net.UDPConn
	ep       *RTPEndpoint
}

func newRTCPPhone(t *testing.T, extra ...string) *rtcpPhone {
	var p *phone
	var rc *net.UDPConn
	for range 50 { // an RTP port whose next port is free
		p = newPhone(t)
		var err error
		if rc, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p.port() + 1}); err == nil {
			break
		}
	}
	require.NotNil(t, rc)
	t.Cleanup(func() { _ = rc.Close() })
	ep := newRTP(t, "e")
	body := append([]string{fmt.Sprintf("m=audio %d RTP/AVP 0", p.port())}, extra...)
	_, err := ep.AnswerOffer(context.Background(), offerSDP("127.0.0.1", body...))
	require.NoError(t, err)
	return &rtcpPhone{phone: p, rtcpConn: rc, ep: ep}
}

// sendSeq sends PCMU packets with the given sequence numbers (SSRC 7).
func (p *rtcpPhone) sendSeq(seqs ...uint16) {
	for _, s := range seqs {
		b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: s, Timestamp: uint32(s) * 160, SSRC: 7},
			Payload: make([]byte, 160)}).Marshal()
		require.NoError(p.t, err)
		_, err = p.conn.WriteToUDPAddrPort(b, p.ep.LocalAddr())
		require.NoError(p.t, err)
	}
}

// readRTCP returns the next compound packet on conn.
func readRTCPFrom(t *testing.T, conn *net.UDPConn) []rtcp.Packet {
	buf := make([]byte, 1500)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(3*time.Second)))
	n, err := conn.Read(buf)
	require.NoError(t, err, "an RTCP report")
	pkts, err := rtcp.Unmarshal(buf[:n])
	require.NoError(t, err)
	return pkts
}

// rtcpPort is the endpoint's RTCP address.
func (p *rtcpPhone) rtcpPort() netip.AddrPort {
	a := p.ep.LocalAddr()
	return netip.AddrPortFrom(a.Addr(), a.Port()+1)
}

func (p *rtcpPhone) sendRTCP(to netip.AddrPort, conn *net.UDPConn, pkts ...rtcp.Packet) {
	raw, err := rtcp.Marshal(pkts)
	require.NoError(p.t, err)
	_, err = conn.WriteToUDPAddrPort(raw, to)
	require.NoError(p.t, err)
}

func TestRTCPReportsOnThePhonesStream(t *testing.T) {
	fastRTCP(t)
	p := newRTCPPhone(t)
	p.sendSeq(1, 2, 3, 4, 5, 6, 9, 10) // 7 and 8 lost
	require.NoError(t, p.ep.WriteAudio(make([]byte, 160), 160))
	var sr *rtcp.SenderReport
	var srAt time.Time
	for sr == nil || len(sr.Reports) == 0 {
		pkts := readRTCPFrom(t, p.rtcpConn)
		srAt = time.Now()
		require.Len(t, pkts, 3, "SR or RR, SDES, XR")
		sr, _ = pkts[0].(*rtcp.SenderReport)
		sdes, ok := pkts[1].(*rtcp.SourceDescription)
		require.True(t, ok)
		require.Equal(t, rtcpCNAME, sdes.Chunks[0].Items[0].Text)
		xr, ok := pkts[2].(*rtcp.ExtendedReport)
		require.True(t, ok)
		require.IsType(t, &rtcp.ReceiverReferenceTimeReportBlock{}, xr.Reports[0])
	}
	require.Equal(t, p.ep.out.ssrc, sr.SSRC)
	require.Equal(t, uint32(1), sr.PacketCount)
	b := sr.Reports[0]
	require.Equal(t, uint32(7), b.SSRC)
	require.Equal(t, uint32(2), b.TotalLost)
	require.Equal(t, uint32(10), b.LastSequenceNumber)
	require.Equal(t, uint8(2*256/10), b.FractionLost)
	require.Zero(t, b.LastSenderReport, "the phone sent no SR")

	// The phone answers with a receiver report on our stream, naming our
	// SR and how long it held it: the RTT is what is left.
	held := delaySince(srAt, time.Now())
	p.sendRTCP(p.rtcpPort(), p.rtcpConn, &rtcp.ReceiverReport{SSRC: 7, Reports: []rtcp.ReceptionReport{{
		SSRC: p.ep.out.ssrc, FractionLost: 64, Jitter: 80, LastSenderReport: uint32(sr.NTPTime >> 16),
		Delay: held}}})
	require.Eventually(t, func() bool { return p.ep.Stats().Remote.Reports == 1 }, 3*time.Second, 5*time.Millisecond)
	s := p.ep.Stats()
	require.InDelta(t, 25.0, s.Remote.LossPct, 1e-9)
	require.InDelta(t, 10.0, s.Remote.JitterMillis, 1e-9, "80 ticks of 8 kHz")
	require.Greater(t, s.RTTMillis, 0.0)
	require.Less(t, s.RTTMillis, 1000.0)

	// A report block on another source is not ours: only the next one on
	// ours counts.
	p.sendRTCP(p.rtcpPort(), p.rtcpConn, &rtcp.ReceiverReport{SSRC: 7, Reports: []rtcp.ReceptionReport{{SSRC: 12345, FractionLost: 255}}})
	p.sendRTCP(p.rtcpPort(), p.rtcpConn, &rtcp.ReceiverReport{SSRC: 7, Reports: []rtcp.ReceptionReport{{SSRC: p.ep.out.ssrc, FractionLost: 32}}})
	require.Eventually(t, func() bool { return p.ep.Stats().Remote.Reports >= 2 }, 3*time.Second, 5*time.Millisecond)
	require.Equal(t, uint64(2), p.ep.Stats().Remote.Reports)
	require.InDelta(t, 12.5, p.ep.Stats().Remote.LossPct, 1e-9)
}

func TestRTCPEchoesThePhonesSenderReport(t *testing.T) {
	fastRTCP(t)
	p := newRTCPPhone(t)
	p.sendSeq(1)
	ntp := ntpTime(time.Now())
	p.sendRTCP(p.rtcpPort(), p.rtcpConn, &rtcp.SenderReport{SSRC: 7, NTPTime: ntp})
	for {
		pkts := readRTCPFrom(t, p.rtcpConn)
		blocks := reportBlocks(pkts)
		if len(blocks) > 0 && blocks[0].LastSenderReport != 0 {
			require.Equal(t, uint32(ntp>>16), blocks[0].LastSenderReport)
			require.Less(t, blocks[0].Delay, uint32(65536), "held under a second")
			return
		}
	}
}

func TestRTCPExtendedReports(t *testing.T) {
	fastRTCP(t)
	tests := []struct {
		name  string
		block func(ours uint32, rrtr uint64) rtcp.ReportBlock
		rtt   func(float64) bool
	}{
		{"voip metrics round-trip delay", func(ours uint32, _ uint64) rtcp.ReportBlock {
			return &rtcp.VoIPMetricsReportBlock{SSRC: ours, RoundTripDelay: 120}
		}, func(r float64) bool { return r == 120 }},
		{"dlrr answering our reference time", func(ours uint32, rrtr uint64) rtcp.ReportBlock {
			return &rtcp.DLRRReportBlock{Reports: []rtcp.DLRRReport{{SSRC: ours, LastRR: uint32(rrtr >> 16), DLRR: 10}}}
		}, func(r float64) bool { return r > 0 && r < 1000 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newRTCPPhone(t)
			p.sendSeq(1)
			pkts := readRTCPFrom(t, p.rtcpConn)
			xr := pkts[len(pkts)-1].(*rtcp.ExtendedReport)
			rrtr := xr.Reports[0].(*rtcp.ReceiverReferenceTimeReportBlock).NTPTimestamp
			p.sendRTCP(p.rtcpPort(), p.rtcpConn, &rtcp.ExtendedReport{SenderSSRC: 7,
				Reports: []rtcp.ReportBlock{tt.block(p.ep.out.ssrc, rrtr)}})
			require.Eventually(t, func() bool { return tt.rtt(p.ep.Stats().RTTMillis) }, 3*time.Second, 5*time.Millisecond,
				"rtt %v", p.ep.Stats().RTTMillis)
		})
	}
}

func TestRTCPAnswersTheReferenceTimeWithDLRR(t *testing.T) {
	fastRTCP(t)
	p := newRTCPPhone(t)
	p.sendSeq(1)
	ref := ntpTime(time.Now())
	p.sendRTCP(p.rtcpPort(), p.rtcpConn, &rtcp.ExtendedReport{SenderSSRC: 7,
		Reports: []rtcp.ReportBlock{&rtcp.ReceiverReferenceTimeReportBlock{NTPTimestamp: ref}}})
	for {
		pkts := readRTCPFrom(t, p.rtcpConn)
		xr := pkts[len(pkts)-1].(*rtcp.ExtendedReport)
		if len(xr.Reports) == 2 {
			d := xr.Reports[1].(*rtcp.DLRRReportBlock).Reports[0]
			require.Equal(t, uint32(7), d.SSRC)
			require.Equal(t, uint32(ref>>16), d.LastRR)
			return
		}
	}
}

func TestRTCPMuxedAndAnnouncedPorts(t *testing.T) {
	fastRTCP(t)
	t.Run("a=rtcp names the port", func(t *testing.T) {
		other, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		require.NoError(t, err)
		defer other.Close()
		p := newRTCPPhone(t, fmt.Sprintf("a=rtcp:%d", other.LocalAddr().(*net.UDPAddr).Port))
		p.sendSeq(1)
		readRTCPFrom(t, other)
	})
	t.Run("rtcp on the rtp port is answered there", func(t *testing.T) {
		p := newRTCPPhone(t)
		p.sendSeq(1)
		readRTCPFrom(t, p.rtcpConn) // before the phone's RTCP: port + 1
		p.sendRTCP(p.ep.LocalAddr(), p.conn, &rtcp.ReceiverReport{SSRC: 7, Reports: []rtcp.ReceptionReport{{
			SSRC: p.ep.out.ssrc, FractionLost: 128}}})
		require.Eventually(t, func() bool { return p.ep.Stats().Remote.Reports == 1 }, 3*time.Second, 5*time.Millisecond)
		require.InDelta(t, 50.0, p.ep.Stats().Remote.LossPct, 1e-9)
		buf := make([]byte, 1500)
		require.NoError(t, p.conn.SetReadDeadline(time.Now().Add(3*time.Second)))
		for {
			n, err := p.conn.Read(buf)
			require.NoError(t, err)
			if _, err := rtcp.Unmarshal(buf[:n]); err == nil {
				return // a report came on the RTP port
			}
		}
	})
}

// RTCP from a host that is not the peer's is ignored: it can neither
// fake the figures nor redirect the reports.
func TestRTCPFromAnotherHostIgnored(t *testing.T) {
	fastRTCP(t)
	p := newRTCPPhone(t)
	p.sendSeq(1)
	stranger, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	require.NoError(t, err)
	defer stranger.Close()
	p.sendRTCP(p.rtcpPort(), stranger, &rtcp.ReceiverReport{SSRC: 9, Reports: []rtcp.ReceptionReport{{SSRC: p.ep.out.ssrc, FractionLost: 255}}})
	p.sendRTCP(p.rtcpPort(), p.rtcpConn, &rtcp.ReceiverReport{SSRC: 7, Reports: []rtcp.ReceptionReport{{SSRC: p.ep.out.ssrc, FractionLost: 32}}})
	require.Eventually(t, func() bool { return p.ep.Stats().Remote.Reports >= 1 }, 3*time.Second, 5*time.Millisecond)
	s := p.ep.Stats()
	require.Equal(t, uint64(1), s.Remote.Reports, "only the peer's report counted")
	require.InDelta(t, 12.5, s.Remote.LossPct, 1e-9)
	readRTCPFrom(t, p.rtcpConn) // reports still go to the peer
}

func TestRTCPAttr(t *testing.T) {
	rtpIP := netip.MustParseAddr("127.0.0.1")
	tests := []struct {
		value string
		want  string
	}{
		{"4001", "127.0.0.1:4001"},
		{"4001 IN IP4 127.0.0.2", "127.0.0.2:4001"},
		{"4001 IN IP6 ::1", "[::1]:4001"},
		{"", ""},
		{"0", ""},
		{"70000", ""},
		{"x", ""},
		{"4001 IN IP4 nohost", ""},
		{"4001 IN IP4 0.0.0.0", ""},
	}
	for _, tt := range tests {
		got := rtcpAttr(must(t, offerSDP("127.0.0.1", "m=audio 4000 RTP/AVP 0", "a=rtcp:"+tt.value)).MediaDescriptions[0].Attributes, rtpIP)
		if tt.want == "" {
			require.False(t, got.IsValid(), "%q", tt.value)
			continue
		}
		require.Equal(t, netip.MustParseAddrPort(tt.want), got, "%q", tt.value)
	}
}

func FuzzReadRTCP(f *testing.F) {
	rr, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: 2}}}})
	xr, _ := (&rtcp.ExtendedReport{SenderSSRC: 1, Reports: []rtcp.ReportBlock{
		&rtcp.VoIPMetricsReportBlock{SSRC: 2, RoundTripDelay: 9}, &rtcp.DLRRReportBlock{Reports: []rtcp.DLRRReport{{SSRC: 2, LastRR: 1}}},
	}}).Marshal()
	f.Add(rr)
	f.Add(xr)
	f.Add([]byte{0x80, 200, 0, 0})
	e, err := NewRTP("fuzz", net.IPv4(127, 0, 0, 1), 30000, 39999, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = e.Close() })
	_, err = e.AnswerOffer(context.Background(), newPhoneOffer())
	if err != nil {
		f.Fatal(err)
	}
	src := netip.MustParseAddrPort("127.0.0.1:4001")
	f.Fuzz(func(t *testing.T, pkt []byte) {
		plain := make([]byte, 1500)
		e.readRTCP(pkt, plain, src, false)
		s := e.Stats()
		if math.IsNaN(s.RTTMillis) || s.RTTMillis < 0 || s.Remote.LossPct < 0 || s.Remote.LossPct > 100 {
			t.Fatalf("stats out of range: %+v", s)
		}
		e.mu.Lock()
		_ = e.reportLocked(time.Now())
		e.mu.Unlock()
	})
}
