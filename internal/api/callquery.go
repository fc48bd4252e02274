package api

import (
	"net/http"
	"slices"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// callDirections are a call record's directions.
var callDirections = []string{"inbound", "outbound", "internal"}

// callEndReasons are the end reasons a call record can hold.
var callEndReasons = []protocol.EndReason{protocol.EndHangup, protocol.EndBusy, protocol.EndNoAnswer,
	protocol.EndFailed, protocol.EndTransferred, protocol.EndRejected, protocol.EndAnsweredElsewhere,
	protocol.EndServerShutdown, protocol.EndMerged}

// callQuery reads the history filters of GET /v1/calls: user (either
// party), direction, reason, and from/to (RFC 3339, on started_at).
func callQuery(r *http.Request) (store.CallQuery, error) {
	v := r.URL.Query()
	q := store.CallQuery{Party: ident.UserID(v.Get("user")), Direction: v.Get("direction"), EndReason: v.Get("reason")}
	if q.Direction != "" && !slices.Contains(callDirections, q.Direction) {
		return q, badField("direction", "invalid_direction", "direction must be inbound, outbound or internal")
	}
	if q.EndReason != "" && !slices.Contains(callEndReasons, protocol.EndReason(q.EndReason)) {
		return q, badField("reason", "invalid_reason", "reason %q is not an end reason (%v)", q.EndReason, callEndReasons)
	}
	var err error
	if q.From, err = queryTime(v.Get("from"), "from"); err != nil {
		return q, err
	}
	if q.To, err = queryTime(v.Get("to"), "to"); err != nil {
		return q, err
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return q, badField("to", "invalid_range", "to must be after from")
	}
	return q, nil
}

func queryTime(s, field string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, badField(field, "invalid_time", "%s must be an RFC 3339 time like 2026-01-02T15:04:05Z", field)
	}
	return t, nil
}
