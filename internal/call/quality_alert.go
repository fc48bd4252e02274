package call

import (
	"context"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// A leg whose MOS stays under lowMOS for lowWindows windows in a row (15 s)
// is reported once: a WARN line and a call.quality event. It is reported
// again only after a window at or above lowMOS ended the dip.
const (
	lowMOS     = 3.5
	lowWindows = 3
)

// dip is a leg's run of consecutive low windows. Windows in which the leg
// sent nothing (held, silent) neither extend nor end it.
type dip struct {
	windows  int  // consecutive low windows
	since    int  // the first low window's offset
	reported bool // this dip was reported
}

// QualityReport is one window of a leg's received media, told to the
// leg's own party (a device session shows it as a quality indicator).
type QualityReport struct {
	MOS      float64
	LossPct  float64
	JitterMs float64
	RTTMs    *float64 // nil: unknown
}

// QualityListener is a Party that hears its own leg's figures every
// window. Device parties implement it; whether the device gets them is
// the session's business (it must have asked). Quality must not block.
type QualityListener interface {
	Quality(r QualityReport)
}

// tellQuality hands l's window to its party when the party listens.
func (c *Call) tellQuality(l *leg, sm store.QualitySample) {
	if ql, ok := l.party.(QualityListener); ok {
		ql.Quality(QualityReport{MOS: sm.MOS, LossPct: sm.LossPct, JitterMs: sm.JitterMs, RTTMs: sm.RTTMs})
	}
}

// watchDip follows l's low-MOS run and reports it when it reaches
// lowWindows.
func (c *Call) watchDip(l *leg, sm store.QualitySample) {
	lq := c.q.legs[l.id]
	d := &lq.dip
	if sm.MOS >= lowMOS {
		*d = dip{}
		return
	}
	if d.windows == 0 {
		d.since = sm.OffsetS
	}
	d.windows++
	if d.windows < lowWindows || d.reported {
		return
	}
	d.reported = true
	alert := store.QualityAlert{LegID: l.id, Role: l.role.String(), Kind: l.party.Kind(), Device: l.party.Key(),
		MOS: sm.MOS, LossPct: sm.LossPct, JitterMs: sm.JitterMs, Threshold: lowMOS, SinceS: d.since, Windows: d.windows}
	c.m.log.Warn("call quality low", "call_id", c.id, "account", c.account, "leg_id", l.id, "role", alert.Role,
		"mos", sm.MOS, "loss_pct", sm.LossPct, "jitter_ms", sm.JitterMs, "since_offset_s", d.since)
	c.rec.emitWith(store.EventCallQuality, func(v store.CallView) any {
		return store.QualityAlertView{CallView: v, Alert: alert}
	})
}

// LiveQuality returns the quality series so far of the live call id,
// read on the call's actor; ok is false when no call by that id is up
// (it ended: its series is in the store).
func (m *Manager) LiveQuality(ctx context.Context, id ident.CallID) (legs []store.LegQuality, ok bool) {
	c := m.lookup(id)
	if c == nil || c.id != id {
		return nil, false
	}
	res := make(chan []store.LegQuality, 1)
	gone := make(chan struct{})
	c.post(event{
		fn: func() {
			if c.state == StateEnded {
				close(gone)
				return
			}
			res <- c.q.series()
		},
		dropped: func() { close(gone) },
	})
	select {
	case legs = <-res:
		return legs, true
	case <-gone:
	case <-c.ctx.Done():
	case <-ctx.Done():
	}
	return nil, false
}
