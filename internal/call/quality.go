package call

import (
	"math"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/quality"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// qualityInterval is the length of a quality window: every interval a
// connected leg's received media is rated (loss, jitter, estimated MOS).
const qualityInterval = 5 * time.Second

// maxQualitySamples bounds a leg's series: an hour of windows; older
// windows are dropped (the summary still counts them).
const maxQualitySamples = 720

// qualitySampler is the actor's quality state: one series per leg that
// was connected, in the order the legs were first rated.
type qualitySampler struct {
	timer Timer
	ticks int // windows closed since the call started
	legs  map[ident.LegID]*legQuality
	order []ident.LegID
}

// legQuality is one leg's counters at the last tick, its recent windows
// and its running summary.
type legQuality struct {
	prev        quality.Counters
	prevReports uint64 // the device's receiver reports counted so far
	samples     []store.QualitySample
	sum         store.QualitySummary
	total       float64 // the sum of every window's MOS, for the mean
	dip         dip     // the low-MOS run under way (quality_alert.go)
}

// startQuality arms the periodic rating, and lets the record take the
// series when the call ends.
func (c *Call) startQuality() {
	c.q.legs = map[ident.LegID]*legQuality{}
	c.q.timer = c.after(qualityInterval, c.sampleQuality)
	c.rec.series = c.q.series
}

// sampleQuality closes a window: each connected leg still up with media
// gets a sample of what the server received from it in the window. A leg
// that sent nothing (held, or silent with DTX) gets none.
func (c *Call) sampleQuality() {
	if c.state == StateEnded {
		return
	}
	defer c.q.timer.Reset(qualityInterval)
	c.q.ticks++
	now := time.Now().UTC()
	offset := (c.q.ticks - 1) * int(qualityInterval/time.Second)
	for _, l := range c.joined {
		if l.ended || l.media == nil {
			continue
		}
		sm, ok := c.q.rate(l.id, l.media.Stats(), now, offset)
		if !ok {
			continue
		}
		c.tellQuality(l, sm)
		c.watchDip(l, sm)
	}
}

// rate adds one window of leg id, whose media now reports s, and returns
// it; ok is false when the leg expected no packet in the window.
func (q *qualitySampler) rate(id ident.LegID, s MediaStats, at time.Time, offset int) (sm store.QualitySample, ok bool) {
	lq := q.legs[id]
	if lq == nil {
		lq = &legQuality{}
		q.legs[id] = lq
		q.order = append(q.order, id)
	}
	cur := quality.Counters{Received: s.PacketsReceived, Lost: s.PacketsLost, LossRuns: s.LossRuns}
	loss, expected := quality.LossPct(lq.prev, cur)
	burst := quality.BurstRatio(lq.prev, cur)
	lq.prev = cur
	if !expected {
		return sm, false
	}
	// The delay is the jitter buffer, packetisation and half the round
	// trip where RTCP measured one (browser legs); a lower bound elsewhere.
	mos := quality.MOS(quality.Window{LossPct: loss, BurstR: burst, DelayMs: quality.DelayMs(s.JitterMillis, s.RTTMillis),
		Codec: quality.CodecFor(s.Codec)})
	sm = store.QualitySample{At: at, OffsetS: offset, MOS: round2(mos), LossPct: round2(loss),
		JitterMs: round2(s.JitterMillis)}
	if s.RTTMillis > 0 {
		rtt := round2(s.RTTMillis)
		sm.RTTMs = &rtt
	}
	if s.RemoteReports > lq.prevReports { // the device reported in this window
		sent := quality.MOS(quality.Window{LossPct: s.RemoteLossPct, DelayMs: quality.DelayMs(s.RemoteJitterMillis, s.RTTMillis),
			Codec: quality.CodecFor(s.Codec)})
		sm.Sent = &store.DirectionSample{MOS: round2(sent), LossPct: round2(s.RemoteLossPct), JitterMs: round2(s.RemoteJitterMillis)}
	}
	lq.prevReports = s.RemoteReports
	lq.add(sm)
	return sm, true
}

// add keeps sm in the bounded series and the summary.
func (lq *legQuality) add(sm store.QualitySample) {
	if len(lq.samples) == maxQualitySamples {
		copy(lq.samples, lq.samples[1:])
		lq.samples = lq.samples[:len(lq.samples)-1]
	}
	lq.samples = append(lq.samples, sm)
	s := &lq.sum
	if s.Samples == 0 || sm.MOS < s.MinMOS {
		s.MinMOS, s.Worst = sm.MOS, store.QualityWindow{OffsetS: sm.OffsetS, MOS: sm.MOS}
	}
	s.Samples++
	lq.total += sm.MOS
	s.AvgMOS = round2(lq.total / float64(s.Samples))
}

// summary returns leg id's summary, nil when none of its windows was rated.
func (q *qualitySampler) summary(id ident.LegID) *store.QualitySummary {
	lq := q.legs[id]
	if lq == nil || lq.sum.Samples == 0 {
		return nil
	}
	s := lq.sum
	return &s
}

// series returns a copy of every rated leg's series.
func (q *qualitySampler) series() []store.LegQuality {
	var out []store.LegQuality
	for _, id := range q.order {
		if lq := q.legs[id]; len(lq.samples) > 0 {
			out = append(out, store.LegQuality{LegID: id, Samples: append([]store.QualitySample(nil), lq.samples...)})
		}
	}
	return out
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
