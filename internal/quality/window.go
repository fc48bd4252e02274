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
	// LossRuns counts gaps in the sequence: runs of consecutive lost
	// packets (a burst of three is one run).
	LossRuns uint64
}

// BurstRatio estimates the window's burst ratio (ITU-T G.113 Appendix I,
// the two-state Markov model behind G.107's BurstR) from the counters'
// change: p, the chance of a loss after a received packet, is runs per
// received packet; q, the chance of a receipt after a lost one, is runs
// per lost packet; BurstR = 1/(p+q). Random loss gives about 1, losses
// in bursts more. Without loss, or with counters that went back, it is 1.
func BurstRatio(prev, cur Counters) float64 {
	if cur.Received <= prev.Received || cur.LossRuns <= prev.LossRuns || cur.Lost <= prev.Lost {
		return 1
	}
	recv := float64(cur.Received - prev.Received)
	lost := float64(cur.Lost - prev.Lost)
	runs := float64(cur.LossRuns - prev.LossRuns)
	runs = math.Min(runs, lost) // late packets shrink lost, not runs
	b := 1 / (runs/recv + runs/lost)
	if !(b >= 1) || math.IsInf(b, 1) {
		return 1
	}
	return b
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
