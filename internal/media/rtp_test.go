package media

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/leakcheck"
)

// rtpPair negotiates two RTP endpoints with each other: a offers, b answers.
func rtpPair(t *testing.T) (*RTPEndpoint, *RTPEndpoint) {
	a, b := newRTP(t, "a"), newRTP(t, "b")
	offer, err := a.CreateOffer(context.Background())
	require.NoError(t, err)
	answer, err := b.AnswerOffer(context.Background(), offer)
	require.NoError(t, err)
	require.NoError(t, a.SetAnswer(answer))
	return a, b
}

// phone is a bare UDP socket standing in for a SIP device.
type phone struct {
	t    *testing.T
	conn *net.UDPConn
	seq  uint16
}

func newPhone(t *testing.T) *phone {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return &phone{t: t, conn: conn}
}

func (p *phone) port() int { return p.conn.LocalAddr().(*net.UDPAddr).Port }

// send sends one PCMU packet to the endpoint.
func (p *phone) send(to *RTPEndpoint) { p.sendPayload(to, make([]byte, 160)) }

// sendPayload sends one PCMU packet carrying payload.
func (p *phone) sendPayload(to *RTPEndpoint, payload []byte) {
	p.seq++
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: p.seq,
		Timestamp: uint32(p.seq) * 160, SSRC: 7}, Payload: payload}).Marshal()
	require.NoError(p.t, err)
	_, err = p.conn.WriteToUDPAddrPort(b, to.LocalAddr())
	require.NoError(p.t, err)
}

// read returns the next RTP packet, or nil after timeout.
func (p *phone) read(timeout time.Duration) *rtp.Packet {
	buf := make([]byte, 1500)
	require.NoError(p.t, p.conn.SetReadDeadline(time.Now().Add(timeout)))
	n, err := p.conn.Read(buf)
	if err != nil {
		return nil
	}
	var pkt rtp.Packet
	require.NoError(p.t, pkt.Unmarshal(buf[:n]))
	return &pkt
}

// offer is an SDP offer from the phone with the given direction.
func (p *phone) offer(dir string) string {
	return offerSDP("127.0.0.1", fmt.Sprintf("m=audio %d RTP/AVP 0 101", p.port()),
		"a=rtpmap:101 telephone-event/8000", "a="+dir)
}

func TestRTPCarriesToneAndEvents(t *testing.T) {
	a, b := rtpPair(t)
	require.Equal(t, a.LocalAddr(), b.remoteAddr())
	require.Equal(t, b.LocalAddr(), a.remoteAddr())
	var got collector
	b.SetSink(got.add)

	f, ok := a.SendFormat()
	require.True(t, ok)
	require.Equal(t, Format{Codec: audio.PCMU, PayloadType: 0, ClockRate: 8000}, f)
	enc, err := audio.NewEncoder(audio.PCMU, 8000)
	require.NoError(t, err)
	tone := audio.NewTone(440, 8000, 0.3)
	pcm := make([]int16, 160)
	for range 50 {
		tone.Read(pcm)
		payload, err := enc.Encode(pcm)
		require.NoError(t, err)
		require.NoError(t, a.WriteAudio(payload, f.Ticks()))
		time.Sleep(time.Millisecond)
	}
	require.Eventually(t, func() bool { return len(got.get()) == 50 }, 5*time.Second, 10*time.Millisecond)
	pkts := got.get()
	dec, err := audio.NewDecoder(audio.PCMU, 8000)
	require.NoError(t, err)
	det := audio.NewDetector(8000, time.Second)
	for i, p := range pkts {
		require.Equal(t, f, p.Format)
		require.Equal(t, i == 0, p.Marker, "marker on the first packet only")
		if i > 0 {
			require.Equal(t, pkts[i-1].Seq+1, p.Seq)
			require.Equal(t, pkts[i-1].Timestamp+160, p.Timestamp)
		}
		pcm, err := dec.Decode(p.Payload)
		require.NoError(t, err)
		det.Write(pcm)
	}
	require.Greater(t, det.Level(440), 0.5)

	// RFC 4733: digit 5 in three packets, the last with the end bit, 800 ticks.
	te, ok := a.EventFormat()
	require.True(t, ok)
	require.Equal(t, Format{PayloadType: 101, ClockRate: 8000}, te)
	for _, payload := range [][]byte{{5, 10, 0x01, 0x40}, {5, 10, 0x02, 0x80}, {5, 0x8a, 0x03, 0x20}} {
		require.NoError(t, a.WriteEvent(payload, 9999))
	}
	require.NoError(t, a.WriteAudio([]byte{0xff}, 160))
	require.Eventually(t, func() bool { return len(got.get()) == 54 }, 5*time.Second, 10*time.Millisecond)
	pkts = got.get()
	last := pkts[49]
	for i, p := range pkts[50:53] {
		require.True(t, p.TelephoneEvent)
		require.Equal(t, te, p.Format)
		require.Equal(t, last.Timestamp+160, p.Timestamp, "one timestamp per event")
		require.Equal(t, i == 0, p.Marker)
		require.Equal(t, last.Seq+uint16(i)+1, p.Seq)
	}
	require.Equal(t, []byte{5, 0x8a, 0x03, 0x20}, pkts[52].Payload)
	require.False(t, pkts[53].TelephoneEvent)
	require.Equal(t, last.Timestamp+160+800, pkts[53].Timestamp, "audio continues after the event")

	// The other way too, and the counters.
	var back collector
	a.SetSink(back.add)
	require.NoError(t, b.WriteAudio([]byte{1, 2, 3}, 160))
	require.Eventually(t, func() bool { return len(back.get()) == 1 }, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, []byte{1, 2, 3}, back.get()[0].Payload)
	sa, sb := a.Stats(), b.Stats()
	require.Equal(t, Stats{Codec: "pcmu", PacketsSent: 54, PacketsReceived: 1, BytesSent: sa.BytesSent, BytesReceived: 3}, sa)
	require.Positive(t, sa.BytesSent)
	require.Equal(t, uint64(54), sb.PacketsReceived)
	require.Equal(t, sa.BytesSent, sb.BytesReceived, "payload bytes counted the same at both ends")
	require.Zero(t, sb.PacketsLost)
	require.Less(t, a.InactiveFor(), time.Second)
}

func TestRTPLatching(t *testing.T) {
	a := newRTP(t, "a")
	sdpPeer, nat := newPhone(t), newPhone(t)
	_, err := a.AnswerOffer(context.Background(), sdpPeer.offer("sendrecv"))
	require.NoError(t, err)
	var got collector
	a.SetSink(got.add)

	// Before any packet, media goes to the SDP address.
	require.NoError(t, a.WriteAudio([]byte{1}, 160))
	require.NotNil(t, sdpPeer.read(2*time.Second))

	// The first packet latches: media follows its source.
	nat.send(a)
	require.Eventually(t, func() bool { return len(got.get()) == 1 }, 2*time.Second, 5*time.Millisecond)
	require.NoError(t, a.WriteAudio([]byte{2}, 160))
	p := nat.read(2 * time.Second)
	require.NotNil(t, p)
	require.Equal(t, []byte{2}, p.Payload)
	require.Nil(t, sdpPeer.read(100*time.Millisecond))

	// Packets from another source are dropped while the latched one is
	// alive; after a second of it alone, sending re-latches to it.
	// One socket reads them in order: when nat's marked last packet is in,
	// so is everything sent before it.
	sdpPeer.send(a)
	nat.send(a)
	sdpPeer.send(a)
	nat.sendPayload(a, []byte{0xee})
	require.Eventually(t, func() bool {
		ps := got.get()
		return len(ps) > 0 && bytes.Equal(ps[len(ps)-1].Payload, []byte{0xee})
	}, 2*time.Second, 5*time.Millisecond)
	require.Len(t, got.get(), 3, "only the latched source's packets")
	deadline := time.Now().Add(3 * time.Second)
	for a.remoteAddr().Port() != uint16(sdpPeer.port()) && time.Now().Before(deadline) {
		sdpPeer.send(a)
		time.Sleep(20 * time.Millisecond)
	}
	require.Equal(t, uint16(sdpPeer.port()), a.remoteAddr().Port(), "re-latched")
	require.NoError(t, a.WriteAudio([]byte{3}, 160))
	for p = sdpPeer.read(2 * time.Second); p != nil && p.Payload[0] != 3; p = sdpPeer.read(2 * time.Second) {
	}
	require.NotNil(t, p)

	// A new SDP address clears the latch.
	other := newPhone(t)
	_, err = a.Reoffer(context.Background(), other.offer("sendrecv"))
	require.NoError(t, err)
	require.NoError(t, a.WriteAudio([]byte{4}, 160))
	p = other.read(2 * time.Second)
	require.NotNil(t, p)
	require.Equal(t, []byte{4}, p.Payload)
}

func TestRTPHoldReoffer(t *testing.T) {
	a := newRTP(t, "a")
	ph := newPhone(t)
	answer, err := a.AnswerOffer(context.Background(), ph.offer("sendrecv"))
	require.NoError(t, err)
	require.Contains(t, answer, "a=sendrecv")
	require.NoError(t, a.WriteAudio([]byte{1}, 160))
	first := ph.read(2 * time.Second)
	require.NotNil(t, first)
	require.True(t, first.Marker)

	// Hold: the phone sends sendonly; we answer recvonly on the same port.
	answer, err = a.Reoffer(context.Background(), ph.offer("sendonly"))
	require.NoError(t, err)
	require.Equal(t, "sendonly", a.RemoteDirection())
	require.Contains(t, answer, "a=recvonly\r\n")
	require.Contains(t, answer, fmt.Sprintf("m=audio %d RTP/AVP 0 101\r\n", a.LocalAddr().Port()))
	require.Equal(t, uint64(2), must(t, answer).Origin.SessionVersion)
	sent := a.Stats().PacketsSent
	require.NoError(t, a.WriteAudio([]byte{2}, 160))
	require.NoError(t, a.WriteEvent([]byte{1, 0x80, 0, 160}, 5))

	// Inactive: nothing goes out either, and the phone's packets still arrive.
	answer, err = a.Reoffer(context.Background(), ph.offer("inactive"))
	require.NoError(t, err)
	require.Equal(t, "inactive", a.RemoteDirection())
	require.Contains(t, answer, "a=inactive\r\n")
	require.NoError(t, a.WriteAudio([]byte{3}, 160))
	require.Nil(t, ph.read(200*time.Millisecond), "writes are dropped while the remote holds")
	require.Equal(t, sent, a.Stats().PacketsSent)

	// The inactivity clock restarts with each description.
	require.Less(t, a.InactiveFor(), time.Second)
	time.Sleep(50 * time.Millisecond)
	require.GreaterOrEqual(t, a.InactiveFor(), 50*time.Millisecond)
	// A packet restarts it (sent on each poll: a late poll must not miss
	// the 40-ms window after one packet).
	require.Eventually(t, func() bool {
		ph.send(a)
		return a.InactiveFor() < 40*time.Millisecond
	}, 2*time.Second, 5*time.Millisecond)

	// Resume: the stream continues, marked, its timestamp in real time.
	_, err = a.Reoffer(context.Background(), ph.offer("sendrecv"))
	require.NoError(t, err)
	require.Equal(t, "sendrecv", a.RemoteDirection())
	require.NoError(t, a.WriteAudio([]byte{4}, 160))
	p := ph.read(2 * time.Second)
	require.NotNil(t, p)
	require.Equal(t, []byte{4}, p.Payload)
	require.True(t, p.Marker)
	require.Equal(t, first.SequenceNumber+1, p.SequenceNumber)
	require.Equal(t, first.Timestamp+3*160, p.Timestamp)
	require.Equal(t, first.SSRC, p.SSRC)
}

func TestRTPIgnoresNonRTP(t *testing.T) {
	a := newRTP(t, "a")
	ph := newPhone(t)
	_, err := a.AnswerOffer(context.Background(), ph.offer("sendrecv"))
	require.NoError(t, err)
	var got collector
	a.SetSink(got.add)
	rtcp := []byte{0x80, 200, 0, 6, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	for _, b := range [][]byte{{1, 2, 3}, {0x40, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, rtcp} {
		_, err := ph.conn.WriteToUDPAddrPort(b, a.LocalAddr())
		require.NoError(t, err)
	}
	ph.send(a)
	require.Eventually(t, func() bool { return len(got.get()) == 1 }, 2*time.Second, 5*time.Millisecond)
	require.Equal(t, uint64(1), a.Stats().PacketsReceived)
	require.Equal(t, uint16(1), got.get()[0].Seq)
}

func TestRTPCloseAndErrors(t *testing.T) {
	defer leakcheck.None(t, goleak.IgnoreCurrent())
	a, b := rtpPair(t)
	require.NoError(t, a.Close())
	require.NoError(t, a.Close(), "Close is idempotent")
	require.NoError(t, b.Close())
	require.NoError(t, a.WriteAudio([]byte{1}, 160), "writes after Close are dropped")
	_, err := a.AnswerOffer(context.Background(), newPhoneOffer())
	require.ErrorIs(t, err, ErrClosed)
	_, err = a.CreateOffer(context.Background())
	require.ErrorIs(t, err, ErrClosed)
	require.NoError(t, a.AddCandidate("candidate:1", nil, nil))

	_, err = NewRTP("x", net.IPv4zero, 30000, 30010, nil)
	require.Error(t, err)
	_, err = NewRTP("x", net.IPv4(127, 0, 0, 1), 30001, 30001, nil)
	require.Error(t, err, "no even port")
	// A one-port range whose port is taken.
	c := newRTP(t, "c")
	port := c.LocalAddr().Port()
	_, err = NewRTP("x", net.IPv4(127, 0, 0, 1), port, port+1, nil)
	require.Error(t, err)
	require.NoError(t, c.Close())
	d, err := NewRTP("x", net.IPv4(127, 0, 0, 1), port, port+1, nil)
	require.NoError(t, err)
	require.Equal(t, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), d.LocalAddr())
	require.Zero(t, d.LocalAddr().Port()%2)
	require.NoError(t, d.Close())
}

func newPhoneOffer() string { return offerSDP("127.0.0.1", "m=audio 4000 RTP/AVP 0") }
