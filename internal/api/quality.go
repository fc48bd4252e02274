package api

import (
	"net/http"

	"github.com/switchboard-voice/switchboard/internal/store"
)

// callQualityJSON is a call's quality series: per leg, its 5-s windows.
type callQualityJSON struct {
	Object string             `json:"object"` // "call_quality"
	CallID string             `json:"call_id"`
	Legs   []store.LegQuality `json:"legs"`
}

// getCallQuality returns the quality series stored with a call's record
// (written when the call ends), seen by whoever may see the call.
func (a *API) getCallQuality(r *http.Request) (int, any, error) {
	c, err := a.visibleCall(r)
	if err != nil {
		return 0, nil, err
	}
	out := callQualityJSON{Object: "call_quality", CallID: string(c.ID), Legs: []store.LegQuality{}}
	legs, err := a.Store.GetCallQuality(r.Context(), c.ID)
	if err != nil {
		return 0, nil, err
	}
	for _, l := range legs {
		if l.Samples == nil {
			l.Samples = []store.QualitySample{}
		}
		out.Legs = append(out.Legs, l)
	}
	return http.StatusOK, out, nil
}
