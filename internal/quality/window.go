package quality

import "math"

// PacketisationMs is the audio frame length both codecs are sent with
// here (20 ms), which is also what a packet adds to the delay.
const PacketisationMs = 20

// DelayMs estimates a leg's one-way delay: a jitter buffer of about twice
// the interarrival jitter, one packetisation interval, and half the
// round-trip time when RTCP measured one (rttMs ≤ 0: unknown, left out,
// so on a leg without RTT the estimate is a lower bound).
func DelayMs(jitterMs, rttMs float64) float64 {
	d := 2*clamp(nan0(jitterMs), 0, 1e6) + PacketisationMs
	if rttMs > 0 && !math.IsInf(rttMs, 1) {
		d += clamp(rttMs, 0, 1e6) / 2
	}
	return d
}

// Counters are a leg's cumulative receive counters, as the media layer
// reports them.
type Counters struct {
	Received uint64
	Lost     int64 // may fall (duplicates, late packets)
}

// LossPct is the share of packets lost between two readings of the
// counters, in percent, and whether any packet was expected at all (a
// held or silent leg expects none: no window to rate).
func LossPct(prev, cur Counters) (pct float64, expected bool) {
	var recv float64
	if cur.Received > prev.Received {
		recv = float64(cur.Received - prev.Received)
	}
	lost := math.Max(0, float64(cur.Lost)-float64(prev.Lost))
	total := recv + lost
	if total == 0 {
		return 0, false
	}
	return 100 * lost / total, true
}
