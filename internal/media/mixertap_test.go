package media

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
)

// tapDetectors hears a mixer tap's two channels.
type tapDetectors struct{ a, b *audio.Detector }

func newTapDetectors(m *Mixer, first Endpoint) *tapDetectors {
	d := &tapDetectors{a: audio.NewDetector(TapRate, time.Second), b: audio.NewDetector(TapRate, time.Second)}
	m.SetTap(first, func(fromA bool, pcm []int16) { // the mixer's goroutine: the test's here
		if fromA {
			d.a.Write(pcm)
		} else {
			d.b.Write(pcm)
		}
	})
	return d
}

// A conference's tap: channel A carries first's voice alone, channel B
// every other participant that is heard; a muted or holding participant
// is in neither, and a first that left leaves B with everyone.
func TestMixerTap(t *testing.T) {
	freqs := []float64{440, 700, 1100}
	for _, tc := range []struct {
		name    string
		muted   int // a muted participant, -1 for none
		held    int // a holding participant, -1 for none
		removed bool
		wantA   []float64
		wantB   []float64
	}{
		{"all talk", -1, -1, false, []float64{440}, []float64{700, 1100}},
		{"first muted", 0, -1, false, nil, []float64{700, 1100}},
		{"first holds", -1, 0, false, nil, []float64{700, 1100}},
		{"another muted", 1, -1, false, []float64{440}, []float64{1100}},
		{"another holds", -1, 2, false, []float64{440}, []float64{700}},
		{"first left", -1, -1, true, nil, []float64{700, 1100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMixerState(audio.DefaultEncoderOptions(), quietLog())
			codecs := []audio.Codec{audio.Opus, audio.PCMU, audio.PCMA}
			eps := make([]*mixEP, len(codecs))
			tones := make([]audio.Source, len(codecs))
			for i, c := range codecs {
				eps[i] = newMixEP(t, c)
				tones[i] = audio.NewTone(freqs[i], 8000, 0.2)
				require.NoError(t, m.Add(eps[i]))
			}
			d := newTapDetectors(m, eps[0])
			if tc.muted >= 0 {
				m.SetMuted(eps[tc.muted], true)
			}
			if tc.held >= 0 {
				m.SetHeld(eps[tc.held], true)
			}
			if tc.removed {
				m.Remove(eps[0])
			}
			pcm := make([]int16, 160)
			for range 50 {
				for i, ep := range eps {
					tones[i].Read(pcm)
					ep.talk(t, pcm)
				}
				m.mixOnce()
			}
			for _, ch := range []struct {
				name string
				det  *audio.Detector
				want []float64
			}{{"A", d.a, tc.wantA}, {"B", d.b, tc.wantB}} {
				if len(ch.want) == 0 {
					require.Zero(t, ch.det.Samples(), "channel %s taps nothing", ch.name)
					continue
				}
				require.EqualValues(t, 50*160, ch.det.Samples(), "channel %s: a frame a tick", ch.name)
				for _, f := range freqs {
					heard := ch.det.Level(f) > 0.1
					require.Equal(t, contains(ch.want, f), heard, "channel %s, %v Hz: level %.3f", ch.name, f, ch.det.Level(f))
				}
			}
			m.SetTap(nil, nil)
			n := d.a.Samples() + d.b.Samples()
			eps[1].talk(t, pcm)
			m.mixOnce()
			require.Equal(t, n, d.a.Samples()+d.b.Samples(), "no tap, nothing tapped")
		})
	}
}

func contains(fs []float64, f float64) bool {
	for _, x := range fs {
		if x == f {
			return true
		}
	}
	return false
}

// The tap costs a tick no allocation: its frames are the mixer's own
// buffers.
func TestMixerTapAllocs(t *testing.T) {
	m := newMixerState(audio.DefaultEncoderOptions(), quietLog())
	a, b := newMixEP(t, audio.PCMU), newMixEP(t, audio.PCMU)
	require.NoError(t, m.Add(a))
	require.NoError(t, m.Add(b))
	pa, err := a.enc.Encode(make([]int16, 160))
	require.NoError(t, err)
	pb, err := b.enc.Encode(make([]int16, 160))
	require.NoError(t, err)
	tick := func() {
		a.sink(Packet{Format: a.format, Payload: pa})
		b.sink(Packet{Format: b.format, Payload: pb})
		m.mixOnce()
		a.out, b.out = a.out[:0], b.out[:0]
	}
	tick()
	without := testing.AllocsPerRun(100, tick)
	var got int
	m.SetTap(a, func(_ bool, pcm []int16) { got += len(pcm) })
	tick()
	with := testing.AllocsPerRun(100, tick)
	require.Positive(t, got)
	require.LessOrEqual(t, with, without, "allocations per tick with a tap")
}

// A beep is mixed into what every participant hears, except one that
// holds; the tap does not record it.
func TestMixerBeep(t *testing.T) {
	m := newMixerState(audio.DefaultEncoderOptions(), quietLog())
	eps := []*mixEP{newMixEP(t, audio.PCMU), newMixEP(t, audio.Opus), newMixEP(t, audio.PCMA)}
	for _, ep := range eps {
		require.NoError(t, m.Add(ep))
	}
	m.SetHeld(eps[2], true)
	d := newTapDetectors(m, eps[0])
	m.Beep()
	m.Beep() // one at a time: the second is dropped
	tone := audio.NewTone(440, 8000, 0.2)
	pcm := make([]int16, 160)
	ticks := int(BeepDuration / audio.FrameDuration)
	for range ticks {
		tone.Read(pcm)
		eps[1].talk(t, pcm)
		m.mixOnce()
	}
	for i, ep := range eps[:2] {
		det := ep.heard(t)
		require.Greater(t, det.Level(beepFreq), 0.1, "participant %d hears the beep", i)
	}
	require.Less(t, eps[2].heard(t).RMS(), 10.0, "a holding participant hears silence")
	require.Less(t, d.b.Level(beepFreq), 0.01, "the recording has no beep")
	require.Greater(t, d.b.Level(440), 0.5)
	eps[0].out = nil
	for range 10 {
		tone.Read(pcm)
		eps[1].talk(t, pcm)
		m.mixOnce()
	}
	require.Less(t, eps[0].heard(t).Level(beepFreq), 0.01, "the beep is over")
	m.Beep()
	require.NotNil(t, m.nextAnnouncedLocked(160), "a beep after the last one plays")
}
