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

// reportRTT returns the round-trip time in ms that a receiver report
// block in pkts yields at arrival (RFC 3550 §6.4.1: arrival − LSR −
// DLSR), ok false when none names a sender report of ours. The sender
// reports are pion's (its report interceptor stamps them with the wall
// clock, as compactNTP reads it).
func reportRTT(pkts []rtcp.Packet, arrival time.Time) (float64, bool) {
	var blocks []rtcp.ReceptionReport
	for _, p := range pkts {
		switch r := p.(type) {
		case *rtcp.ReceiverReport:
			blocks = append(blocks, r.Reports...)
		case *rtcp.SenderReport:
			blocks = append(blocks, r.Reports...)
		}
	}
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
