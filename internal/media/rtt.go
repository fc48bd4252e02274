package media

import (
	"time"

	"github.com/pion/rtcp"
)

// ntpEpochOffset is the seconds from 1900 (NTP) to 1970 (Unix).
const ntpEpochOffset = 2208988800

// compactNTP is t in the middle 32 bits of an NTP timestamp: 16 bits of
// seconds, 16 of fraction (RFC 3550's LSR and DLSR unit, 1/65536 s).
func compactNTP(t time.Time) uint32 {
	secs := uint64(t.Unix()+ntpEpochOffset) & 0xFFFF
	frac := uint64(t.Nanosecond()) << 16 / uint64(time.Second)
	return uint32(secs<<16 | frac)
}

// reportBlocks returns the reception report blocks in pkts.
func reportBlocks(pkts []rtcp.Packet) []rtcp.ReceptionReport {
	var blocks []rtcp.ReceptionReport
	for _, p := range pkts {
		switch r := p.(type) {
		case *rtcp.ReceiverReport:
			blocks = append(blocks, r.Reports...)
		case *rtcp.SenderReport:
			blocks = append(blocks, r.Reports...)
		}
	}
	return blocks
}

// RemoteReport is what the device last said, in an RTCP receiver report,
// of the stream the server sends it: the other direction of the leg.
type RemoteReport struct {
	Reports      uint64  // how many arrived so far (a new window has a new count)
	LossPct      float64 // the fraction lost since its previous report, in percent
	JitterMillis float64 // the device's interarrival jitter
}

// remoteReport reads the first block of pkts as a RemoteReport, its
// jitter in a clock of clock Hz; ok false when pkts carry none.
func remoteReport(pkts []rtcp.Packet, clock uint32) (RemoteReport, bool) {
	blocks := reportBlocks(pkts)
	if len(blocks) == 0 || clock == 0 {
		return RemoteReport{}, false
	}
	b := blocks[0]
	return RemoteReport{LossPct: float64(b.FractionLost) * 100 / 256,
		JitterMillis: float64(b.Jitter) * 1000 / float64(clock)}, true
}

// reportRTT returns the round-trip time in ms that a receiver report
// block in pkts yields at arrival (RFC 3550 §6.4.1: arrival − LSR −
// DLSR), ok false when none names a sender report of ours. The sender
// reports are pion's (its report interceptor stamps them with the wall
// clock, as compactNTP reads it).
func reportRTT(pkts []rtcp.Packet, arrival time.Time) (float64, bool) {
	blocks := reportBlocks(pkts)
	now := compactNTP(arrival)
	for _, b := range blocks {
		if b.LastSenderReport == 0 {
			continue
		}
		d := now - b.LastSenderReport - b.Delay // modulo 2^32, as the RFC's arithmetic
		if d > 0x80000000 {                     // negative: clocks or a stale report
			continue
		}
		// At least 0.01 ms: zero means "none measured" to Stats' readers,
		// and loopback can measure under the unit's 15 µs.
		return max(float64(d)*1000/65536, 0.01), true
	}
	return 0, false
}
