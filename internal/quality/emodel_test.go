package quality

import (
	"math"
	"testing"
)

func TestMOSFromR(t *testing.T) {
	for _, tc := range []struct {
		r, mos float64
	}{
		{93.2, 4.41},
		{100, 4.5},
		{120, 4.5},
		{0, 1},
		{-5, 1},
		{math.NaN(), 1},
		{50, 2.58},
		{70, 3.60},
		{80, 4.02},
		{90, 4.34},
	} {
		if got := MOSFromR(tc.r); math.Abs(got-tc.mos) > 0.005 {
			t.Errorf("MOSFromR(%v) = %.4f, want %.2f", tc.r, got, tc.mos)
		}
	}
}

func TestIdd(t *testing.T) {
	for _, tc := range []struct {
		ta, id float64
	}{
		{0, 0},
		{60, 0},
		{100, 0},
		{150, 0.16}, // 25·((1+X⁶)^⅙ − 3(1+(X/3)⁶)^⅙ + 2), X = log₂(Ta/100)
		{200, 3.04},
		{400, 24.07},
		{1e300, 50}, // the curve's limit: 25·2
		{math.Inf(1), 50},
		{math.NaN(), 0},
	} {
		if got := Idd(tc.ta); math.Abs(got-tc.id) > 0.1 {
			t.Errorf("Idd(%v) = %.3f, want %.2f", tc.ta, got, tc.id)
		}
	}
}

func TestIeEff(t *testing.T) {
	for _, tc := range []struct {
		name         string
		c            Codec
		loss, burstR float64
		want         float64
	}{
		{"G.711 no loss", G711, 0, 1, 0},
		{"G.711 1% random", G711, 1, 1, 95 * 1 / (1 + 25.1)},
		{"G.711 5% random", G711, 5, 1, 95 * 5 / (5 + 25.1)},
		{"G.711 5% bursty", G711, 5, 2, 95 * 5 / (2.5 + 25.1)},
		{"burst ratio unknown", G711, 5, 0, 95 * 5 / (5 + 25.1)},
		{"Opus 2%", Opus, 2, 1, 95 * 2.0 / (2 + 20)},
		{"Opus 12 kbit/s 0%", OpusAt(12), 0, 1, 7},
		{"all lost", G711, 100, 1, 95 * 100 / (100 + 25.1)},
		{"loss above 100", G711, 300, 1, 95 * 100 / (100 + 25.1)},
		{"negative loss", G711, -3, 1, 0},
	} {
		if got := IeEff(tc.c, tc.loss, tc.burstR); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: IeEff = %.4f, want %.4f", tc.name, got, tc.want)
		}
	}
}

func TestMOS(t *testing.T) {
	for _, tc := range []struct {
		name     string
		w        Window
		min, max float64
	}{
		{"clean G.711", Window{Codec: G711, DelayMs: 20}, 4.40, 4.42},
		{"clean Opus", Window{Codec: Opus, DelayMs: 40}, 4.40, 4.42},
		{"G.711 1% random loss", Window{Codec: G711, LossPct: 1, DelayMs: 40}, 4.32, 4.34},
		{"G.711 5% random loss", Window{Codec: G711, LossPct: 5, DelayMs: 40}, 3.90, 3.95},
		{"Opus 5% loss", Window{Codec: Opus, LossPct: 5, DelayMs: 40}, 3.75, 3.82},
		{"G.711 300 ms", Window{Codec: G711, DelayMs: 300}, 3.9, 4.1},
		{"everything lost", Window{Codec: G711, LossPct: 100, DelayMs: 1000}, 1, 1.01},
	} {
		got := MOS(tc.w)
		if got < tc.min || got > tc.max {
			t.Errorf("%s: MOS = %.3f (R %.1f), want in [%.2f, %.2f]", tc.name, got, R(tc.w), tc.min, tc.max)
		}
	}
}

func TestOrdering(t *testing.T) {
	// More loss or more delay never rates better.
	prev := 5.0
	for loss := 0.0; loss <= 30; loss += 0.5 {
		m := MOS(Window{Codec: Opus, LossPct: loss, DelayMs: 50})
		if m > prev {
			t.Fatalf("MOS rose with loss at %v%%: %v > %v", loss, m, prev)
		}
		prev = m
	}
	prev = 5.0
	for d := 0.0; d <= 1000; d += 10 {
		m := MOS(Window{Codec: G711, DelayMs: d})
		if m > prev+1e-12 {
			t.Fatalf("MOS rose with delay at %v ms: %v > %v", d, m, prev)
		}
		prev = m
	}
}

func TestCodecFor(t *testing.T) {
	for name, want := range map[string]Codec{"opus": Opus, "OPUS": Opus, "pcmu": G711, "PCMA": G711, "": G711, "g729": G711} {
		if got := CodecFor(name); got != want {
			t.Errorf("CodecFor(%q) = %+v, want %+v", name, got, want)
		}
	}
}

func TestDelayMs(t *testing.T) {
	for _, tc := range []struct{ jitter, rtt, want float64 }{
		{0, 0, 20},
		{5, 0, 30},
		{5, 40, 50},
		{math.NaN(), math.NaN(), 20},
		{-4, -1, 20},
	} {
		if got := DelayMs(tc.jitter, tc.rtt); got != tc.want {
			t.Errorf("DelayMs(%v, %v) = %v, want %v", tc.jitter, tc.rtt, got, tc.want)
		}
	}
}

func TestLossPct(t *testing.T) {
	for _, tc := range []struct {
		name      string
		prev, cur Counters
		pct       float64
		expected  bool
	}{
		{"nothing", Counters{}, Counters{}, 0, false},
		{"clean", Counters{Received: 100, Lost: 0}, Counters{Received: 350, Lost: 0}, 0, true},
		{"1 in 100", Counters{Received: 0, Lost: 0}, Counters{Received: 99, Lost: 1}, 1, true},
		{"lost fell (duplicates)", Counters{Received: 100, Lost: 5}, Counters{Received: 200, Lost: 3}, 0, true},
		{"received fell (reset)", Counters{Received: 100, Lost: 0}, Counters{Received: 10, Lost: 2}, 100, true},
	} {
		pct, exp := LossPct(tc.prev, tc.cur)
		if math.Abs(pct-tc.pct) > 1e-9 || exp != tc.expected {
			t.Errorf("%s: LossPct = %v, %v; want %v, %v", tc.name, pct, exp, tc.pct, tc.expected)
		}
	}
}

func FuzzMOS(f *testing.F) {
	f.Add(0.0, 1.0, 20.0, 0.0, 25.1, 5.0, 0.0)
	f.Add(100.0, 0.0, 1e9, 95.0, 0.0, math.NaN(), math.Inf(1))
	f.Add(-1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0)
	f.Fuzz(func(t *testing.T, loss, burst, delay, ie, bpl, jitter, rtt float64) {
		w := Window{LossPct: loss, BurstR: burst, DelayMs: delay, Codec: Codec{Ie: ie, Bpl: bpl}}
		r := R(w)
		if math.IsNaN(r) || math.IsInf(r, 0) || r < 0 || r > 100 {
			t.Fatalf("R(%+v) = %v", w, r)
		}
		m := MOS(w)
		if math.IsNaN(m) || m < 1 || m > 4.5 {
			t.Fatalf("MOS(%+v) = %v", w, m)
		}
		d := DelayMs(jitter, rtt)
		if math.IsNaN(d) || math.IsInf(d, 0) || d < PacketisationMs {
			t.Fatalf("DelayMs(%v, %v) = %v", jitter, rtt, d)
		}
		w.DelayMs = d
		if m := MOS(w); math.IsNaN(m) || m < 1 || m > 4.5 {
			t.Fatalf("MOS(%+v) = %v", w, m)
		}
	})
}

func TestBurstRatio(t *testing.T) {
	for _, tc := range []struct {
		name      string
		prev, cur Counters
		want      float64
	}{
		{"no loss", Counters{}, Counters{Received: 250}, 1},
		// 5 % random loss: 250 received, 13 lost in 12 runs: p = 12/250,
		// q = 12/13, BurstR = 1/(0.048 + 0.923) ≈ 1.03.
		{"random", Counters{}, Counters{Received: 250, Lost: 13, LossRuns: 12}, 1 / (12.0/250 + 12.0/13)},
		// The same 13 lost in 3 runs of 4-5: bursts.
		{"bursty", Counters{}, Counters{Received: 250, Lost: 13, LossRuns: 3}, 1 / (3.0/250 + 3.0/13)},
		{"deltas only", Counters{Received: 1000, Lost: 50, LossRuns: 40}, Counters{Received: 1250, Lost: 63, LossRuns: 43}, 1 / (3.0/250 + 3.0/13)},
		{"late packets: lost fell", Counters{Received: 100, Lost: 5, LossRuns: 5}, Counters{Received: 200, Lost: 3, LossRuns: 6}, 1},
		{"reset", Counters{Received: 100, Lost: 5, LossRuns: 5}, Counters{Received: 10, Lost: 6, LossRuns: 6}, 1},
		{"more runs than lost (reordering)", Counters{}, Counters{Received: 100, Lost: 2, LossRuns: 5}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := BurstRatio(tc.prev, tc.cur)
			if math.Abs(got-tc.want) > 1e-9 {
				t.Fatalf("BurstRatio = %v, want %v", got, tc.want)
			}
			if got < 1 {
				t.Fatalf("BurstRatio %v below 1", got)
			}
		})
	}
}
