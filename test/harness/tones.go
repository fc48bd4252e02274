package harness

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/softphone"
)

// Mixed-audio thresholds: in an even mix of k tones each has a level of
// about 1/k; a tone that is not in the mix stays near 0.
const (
	mixedHeard  = 0.15
	mixedAbsent = 0.03
)

// mixCheck reports whether d hears every tone of want and none of not.
func mixCheck(d *audio.Detector, want, not []float64) error {
	for _, f := range want {
		if l := d.Level(f); l < mixedHeard {
			return fmt.Errorf("%.0f Hz level %.2f, want ≥ %.2f (dominant %.0f Hz, rms %.3f)",
				f, l, mixedHeard, d.Dominant(100, 3500), d.RMS())
		}
	}
	for _, f := range not {
		if l := d.Level(f); l > mixedAbsent {
			return fmt.Errorf("%.0f Hz level %.2f, want ≤ %.2f (dominant %.0f Hz)", f, l, mixedAbsent, d.Dominant(100, 3500))
		}
	}
	return nil
}

// HearsMix polls until the call's detector, reset first, hears every tone
// of want and none of not (a conference: the others, never itself).
func HearsMix(t testing.TB, c *softphone.Call, want, not []float64) {
	t.Helper()
	c.Detector().Reset()
	CheckFor(t, 10*time.Second, func() error {
		if n := c.Detector().Samples(); n < softphone.SourceRate/2 {
			return fmt.Errorf("call %s: only %d samples heard", c.ID, n)
		}
		if err := mixCheck(c.Detector(), want, not); err != nil {
			return fmt.Errorf("call %s: %w", c.ID, err)
		}
		return nil
	})
}

// HeardMix checks that the phone's last second of recording holds every
// tone of want and none of not (polling; the call may still be up).
func (b *Baresip) HeardMix(t testing.TB, want, not []float64) {
	t.Helper()
	CheckFor(t, 10*time.Second, func() error {
		d, err := b.lastHeard()
		if err != nil {
			return err
		}
		if err := mixCheck(d, want, not); err != nil {
			return fmt.Errorf("phone: %w", err)
		}
		return nil
	})
}
