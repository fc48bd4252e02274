package store

import (
	"context"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

// QualitySummary is how one leg sounded over the call: the mean and the
// lowest estimated MOS of its 5-s windows, and the worst window.
type QualitySummary struct {
	AvgMOS  float64       `json:"avg_mos"`
	MinMOS  float64       `json:"min_mos"`
	Worst   QualityWindow `json:"worst_window"`
	Samples int           `json:"samples"` // windows rated (each 5 s)
}

// QualityWindow names a window by its start, in seconds since the call
// started.
type QualityWindow struct {
	OffsetS int     `json:"offset_s"`
	MOS     float64 `json:"mos"`
}

// QualitySample is one 5-s window of a leg's received media.
type QualitySample struct {
	At       time.Time `json:"at"`       // when the window closed
	OffsetS  int       `json:"offset_s"` // the window's start, seconds since the call started
	MOS      float64   `json:"mos"`
	LossPct  float64   `json:"loss_pct"`
	JitterMs float64   `json:"jitter_ms"`
	RTTMs    *float64  `json:"rtt_ms,omitempty"` // when RTCP measured one
	// Sent rates the leg's other direction, what the device received from
	// the server, from the device's RTCP receiver reports in the window
	// (nil: it sent none, as SIP legs do not here).
	Sent *DirectionSample `json:"sent,omitempty"`
}

// DirectionSample is one direction's figures in a window.
type DirectionSample struct {
	MOS      float64 `json:"mos"`
	LossPct  float64 `json:"loss_pct"`
	JitterMs float64 `json:"jitter_ms"`
}

// LegQuality is one leg's series of windows, oldest first.
type LegQuality struct {
	LegID   ident.LegID     `json:"leg_id"`
	Samples []QualitySample `json:"samples"`
}

// CallQualities keeps the quality series of call records.
type CallQualities interface {
	// SaveCallQuality stores the series of the record with the given id,
	// replacing any stored before.
	SaveCallQuality(ctx context.Context, id ident.CallID, legs []LegQuality) error
	// GetCallQuality returns the series stored with the record (empty when
	// none was); ErrNotFound when there is no such record.
	GetCallQuality(ctx context.Context, id ident.CallID) ([]LegQuality, error)
}

// QualityAlert says which leg sounded bad, and how: the data of a
// call.quality event besides the call.
type QualityAlert struct {
	LegID     ident.LegID `json:"leg_id"`
	Role      string      `json:"role"` // caller or callee
	Kind      string      `json:"kind"` // webrtc or sip
	Device    string      `json:"device"`
	MOS       float64     `json:"mos"`      // the last window's, below the threshold
	LossPct   float64     `json:"loss_pct"` // the last window's
	JitterMs  float64     `json:"jitter_ms"`
	Threshold float64     `json:"threshold"`      // 3.5
	SinceS    int         `json:"since_offset_s"` // the first low window's start, seconds since the call started
	Windows   int         `json:"windows"`        // consecutive low windows so far (3)
}

// QualityAlertView is the data of a call.quality event: the call as it
// stands and the alert.
type QualityAlertView struct {
	CallView
	Alert QualityAlert `json:"quality_alert"`
}
