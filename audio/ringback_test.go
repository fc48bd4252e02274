package audio

import (
	"testing"
	"time"
)

func TestRingbackCadence(t *testing.T) {
	const rate = 8000
	src := NewRingback(rate)
	on := make([]int16, rate) // the first second rings
	src.Read(on)
	d := NewDetector(rate, time.Second)
	d.Write(on)
	if d.Level(440) < 0.05 || d.Level(480) < 0.05 {
		t.Fatalf("ringing second: levels 440=%.3f 480=%.3f", d.Level(440), d.Level(480))
	}
	off := make([]int16, 2*rate) // seconds 1–3: one more second on, then silence
	src.Read(off)
	for i, v := range off[rate+80:] {
		if v != 0 {
			t.Fatalf("sample %d of the silent part is %d", rate+80+i, v)
		}
	}
	if got := NewRingback(0); got != Silence() {
		t.Fatalf("rate 0: got %T", got)
	}
}
