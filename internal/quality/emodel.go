// Package quality estimates how a call sounded: the ITU-T G.107 E-model
// turns a window's packet loss, jitter and delay into a rating R and a
// mean opinion score (MOS). Pure functions: no clock, no I/O.
//
// The model here is G.107's simplified form for a narrowband (3.1 kHz)
// connection with default parameters and echo assumed controlled:
//
//	R = 93.2 − Id − Ie,eff + A        (Ro − Is = 94.77 − 1.41 = 93.2, A = 0)
//	Id = Idd(Ta)                       (0 for a one-way delay Ta ≤ 100 ms)
//	Ie,eff = Ie + (95 − Ie)·Ppl / (Ppl/BurstR + Bpl)
//	MOS = 1 + 0.035R + 7·10⁻⁶·R(R−60)(100−R), clamped to [1, 4.5]
package quality

import (
	"math"
	"strings"
)

// Codec is a codec's E-model parameters: its equipment impairment Ie and
// its packet-loss robustness Bpl.
type Codec struct {
	Ie  float64
	Bpl float64
}

// Codec parameters. G.711 comes from ITU-T G.113 Appendix I (with packet
// loss concealment). G.113 gives no figures for Opus; Opus is a wideband
// or fullband codec whose quality at the rates browsers use (≥ 24 kbit/s,
// typically 32–40) is at least G.711's on the narrowband scale, so Ie = 0
// there, rising towards 11 at 8 kbit/s (published listening tests place
// Opus narrowband at 8–12 kbit/s near G.729's Ie of 10–11). Its loss
// robustness is taken as Bpl = 20, the published estimates for Opus with
// its PLC (without in-band FEC): a little less robust than G.711 with PLC.
var (
	G711 = Codec{Ie: 0, Bpl: 25.1}
	Opus = Codec{Ie: 0, Bpl: 20}
)

// OpusAt returns Opus's parameters at an encoder bitrate (kbit/s); 0 or
// less means unknown, taken as the browsers' default (Ie = 0).
func OpusAt(kbps float64) Codec {
	c := Opus
	switch {
	case kbps <= 0 || kbps >= 24:
	case kbps >= 16:
		c.Ie = 3
	case kbps >= 12:
		c.Ie = 7
	default:
		c.Ie = 11
	}
	return c
}

// CodecFor returns the parameters of a codec named as the media layer
// names it ("opus", "pcmu", "pcma", any case); unknown codecs get G.711's
// (the conservative Ie = 0 leaves the rating to loss and delay).
func CodecFor(name string) Codec {
	switch strings.ToLower(name) {
	case "opus":
		return Opus
	default:
		return G711
	}
}

// Window is what one measuring window saw.
type Window struct {
	LossPct float64 // packets lost, percent of those expected (0–100)
	BurstR  float64 // burst ratio; 1 (or ≤ 0: unknown) is random loss
	DelayMs float64 // one-way mouth-to-ear delay estimate, Ta
	Codec   Codec
}

// R returns the E-model rating of w, in [0, 100].
func R(w Window) float64 {
	r := 93.2 - Idd(w.DelayMs) - IeEff(w.Codec, w.LossPct, w.BurstR)
	return clamp(r, 0, 100)
}

// MOS returns the estimated mean opinion score of w, in [1, 4.5].
func MOS(w Window) float64 { return MOSFromR(R(w)) }

// Idd is G.107's delay impairment for an absolute one-way delay ta (ms):
// 0 up to 100 ms, then 25·{(1+X⁶)^⅙ − 3(1+(X/3)⁶)^⅙ + 2}, X = log₂(ta/100).
func Idd(ta float64) float64 {
	if !(ta > 100) { // also NaN
		return 0
	}
	if math.IsInf(ta, 1) {
		ta = math.MaxFloat64
	}
	x := math.Log2(ta / 100)
	id := 25 * (math.Pow(1+math.Pow(x, 6), 1.0/6) - 3*math.Pow(1+math.Pow(x/3, 6), 1.0/6) + 2)
	if math.IsNaN(id) || math.IsInf(id, 0) { // x so large that x⁶ overflows: the limit
		return 50
	}
	return clamp(id, 0, 50)
}

// IeEff is the effective equipment impairment of c under lossPct percent
// packet loss with burst ratio burstR (≤ 0 or NaN: 1, random loss).
func IeEff(c Codec, lossPct, burstR float64) float64 {
	ppl := clamp(nan0(lossPct), 0, 100)
	if !(burstR >= 1) || math.IsInf(burstR, 1) { // below 1 is not a burst ratio; NaN and +Inf are unknown
		burstR = 1
	}
	ie := clamp(nan0(c.Ie), 0, 95)
	bpl := nan0(c.Bpl)
	if bpl <= 0 {
		bpl = 1
	}
	if ppl == 0 {
		return ie
	}
	return ie + (95-ie)*ppl/(ppl/burstR+bpl)
}

// MOSFromR maps a rating to G.107's MOS: 1 below R = 0, 4.5 above R = 100.
func MOSFromR(r float64) float64 {
	switch {
	case math.IsNaN(r) || r <= 0:
		return 1
	case r >= 100:
		return 4.5
	}
	return clamp(1+0.035*r+7e-6*r*(r-60)*(100-r), 1, 4.5)
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

func nan0(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}
