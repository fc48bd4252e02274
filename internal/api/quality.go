package api

import (
	"context"
	"net/http"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// callQualityJSON is a call's quality series: per leg, its 5-s windows.
type callQualityJSON struct {
	Object string             `json:"object"` // "call_quality"
	CallID string             `json:"call_id"`
	Legs   []store.LegQuality `json:"legs"`
	Live   bool               `json:"live"` // the call is up: the series so far
}

// liveQuality returns the series of c when c is still up.
func (a *API) liveQuality(ctx context.Context, c *store.CallRecord) ([]store.LegQuality, bool) {
	if a.LiveQuality == nil || c.EndedAt != nil {
		return nil, false
	}
	return a.LiveQuality(ctx, c.ID)
}

// LiveQuality reads a live call's quality series so far (on the call's
// actor); ok is false when the call is not up (any more).
type LiveQuality func(ctx context.Context, id ident.CallID) (legs []store.LegQuality, ok bool)

// getCallQuality returns a call's quality series, seen by whoever may see
// the call: the series so far while the call is up, else the one stored
// with its record when it ended.
func (a *API) getCallQuality(r *http.Request) (int, any, error) {
	c, err := a.visibleCall(r)
	if err != nil {
		return 0, nil, err
	}
	out := callQualityJSON{Object: "call_quality", CallID: string(c.ID), Legs: []store.LegQuality{}}
	legs, live := a.liveQuality(r.Context(), c)
	if !live {
		if legs, err = a.Store.GetCallQuality(r.Context(), c.ID); err != nil {
			return 0, nil, err
		}
	}
	out.Live = live
	for _, l := range legs {
		if l.Samples == nil {
			l.Samples = []store.QualitySample{}
		}
		out.Legs = append(out.Legs, l)
	}
	return http.StatusOK, out, nil
}
