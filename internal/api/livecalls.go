package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// LiveCalls is the call core's live state (a *call.Manager): snapshots
// taken by each call's actor, and the supervisor's commands.
type LiveCalls interface {
	Live(ctx context.Context) []call.LiveCall
	LiveCall(ctx context.Context, id ident.CallID) (call.LiveCall, bool)
	Supervise(ctx context.Context, id ident.CallID, cmd call.Command) error
}

// liveRoutes adds the supervisor actions on live calls.
func (a *API) liveRoutes(handle func(string, map[string]handler)) {
	handle("/v1/calls/{id}/hangup", map[string]handler{"POST": a.admin(a.hangupCall)})
	handle("/v1/calls/{id}/transfer", map[string]handler{"POST": a.admin(a.transferCall)})
}

// liveCallJSON is a live call (GET /v1/calls?status=active, and the live
// part of GET /v1/calls/{id}).
type liveCallJSON struct {
	Object       string        `json:"object"` // "call"
	ID           string        `json:"id"`
	AccountID    string        `json:"account_id"`
	Status       string        `json:"status"` // "active"
	State        string        `json:"state"`
	Transferring bool          `json:"transferring"`
	Direction    string        `json:"direction"`
	FromUser     string        `json:"from_user,omitempty"`
	ToUser       string        `json:"to_user,omitempty"`
	From         string        `json:"from"`
	FromName     string        `json:"from_name"`
	To           string        `json:"to"`
	StartedAt    string        `json:"started_at"`
	AnsweredAt   *string       `json:"answered_at"`
	DurationS    *int          `json:"duration_s"` // since the answer
	Node         string        `json:"node,omitempty"`
	Legs         []liveLegJSON `json:"legs"`
}

type liveLegJSON struct {
	LegID   string               `json:"leg_id"`
	Role    string               `json:"role"`
	Kind    string               `json:"kind"`
	Device  string               `json:"device"`
	UserID  string               `json:"user_id,omitempty"`
	Status  string               `json:"status"`
	Held    bool                 `json:"held"`
	Muted   bool                 `json:"muted"`
	Codec   string               `json:"codec"`
	Quality *store.QualitySample `json:"quality"`
}

func (a *API) liveView(lc call.LiveCall) liveCallJSON {
	out := liveCallJSON{Object: "call", ID: string(lc.ID), AccountID: string(lc.Account), Status: "active",
		State: lc.State.String(), Transferring: lc.Transferring, Direction: lc.Direction,
		FromUser: string(lc.FromUser), ToUser: string(lc.ToUser), From: lc.From, FromName: lc.FromName, To: lc.To,
		StartedAt: rfc3339(lc.StartedAt), Node: a.NodeID, Legs: make([]liveLegJSON, 0, len(lc.Legs))}
	if !lc.AnsweredAt.IsZero() {
		at := rfc3339(lc.AnsweredAt)
		d := int(math.Round(a.now().Sub(lc.AnsweredAt).Seconds()))
		out.AnsweredAt, out.DurationS = &at, &d
	}
	for _, l := range lc.Legs {
		out.Legs = append(out.Legs, liveLegJSON{LegID: string(l.ID), Role: l.Role, Kind: l.Kind, Device: l.Device,
			UserID: string(l.User), Status: l.Status, Held: l.Held, Muted: l.Muted, Codec: l.Codec, Quality: l.Quality})
	}
	return out
}

// listLiveCalls serves GET /v1/calls?status=active: the live calls f lets
// the caller see (admin: all, or one account's; a user token: the calls the
// user placed, was called by, or is on), newest first, at most limit.
func (a *API) listLiveCalls(r *http.Request, f store.CallFilter) (int, any, error) {
	if f.StartingAfter != "" {
		return 0, nil, badField("starting_after", "invalid_request", "starting_after does not apply to status=active: every live call is listed")
	}
	out := listJSON[liveCallJSON]{Object: "list", Data: []liveCallJSON{}}
	if a.Live == nil {
		return http.StatusOK, out, nil
	}
	live := a.Live.Live(r.Context())
	for i := len(live) - 1; i >= 0; i-- {
		lc := live[i]
		if !liveVisible(lc, f) {
			continue
		}
		if f.Limit > 0 && len(out.Data) == f.Limit {
			out.HasMore = true
			break
		}
		out.Data = append(out.Data, a.liveView(lc))
	}
	return http.StatusOK, out, nil
}

func liveVisible(lc call.LiveCall, f store.CallFilter) bool {
	if f.AccountID != "" && lc.Account != f.AccountID {
		return false
	}
	if f.Party != "" && !lc.HasUser(f.Party) || f.Direction != "" && lc.Direction != f.Direction {
		return false
	}
	return f.UserID == "" || lc.HasUser(f.UserID)
}

// callStatus reads ?status= on GET /v1/calls: "" (every record) or
// "active" (live calls).
func callStatus(r *http.Request) (string, error) {
	switch s := r.URL.Query().Get("status"); s {
	case "", "active":
		return s, nil
	}
	return "", badField("status", "invalid_status", "status must be \"active\" (or absent for every call record)")
}

// callDetailJSON is GET /v1/calls/{id}: the record, and the live view while
// the call is up on this node.
type callDetailJSON struct {
	callJSON
	Live *liveCallJSON `json:"live,omitempty"`
	// Recordings are the call's recordings (recordings.go); null when
	// the server keeps none.
	Recordings []recordingJSON `json:"recordings"`
}

// withLive adds the live view to the record of a call that has not ended.
func (a *API) withLive(r *http.Request, c *store.CallRecord) callDetailJSON {
	out := callDetailJSON{callJSON: callView(c), Recordings: a.callRecordings(r.Context(), c.ID)}
	if c.EndedAt != nil || a.Live == nil {
		return out
	}
	if lc, ok := a.Live.LiveCall(r.Context(), c.ID); ok && lc.ID == c.ID {
		v := a.liveView(lc)
		out.Live = &v
	}
	return out
}

// hangupCall serves POST /v1/calls/{id}/hangup: the call ends for every
// party with reason hangup, each leg noted ended_by "supervisor".
func (a *API) hangupCall(r *http.Request) (int, any, error) {
	if err := emptyBody(r); err != nil {
		return 0, nil, err
	}
	id := ident.CallID(r.PathValue("id"))
	if err := a.supervise(r, id, call.SuperviseHangup{}); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"object": "call", "id": id, "status": "ended", "end_reason": "hangup",
		"ended_by": call.Supervisor}, nil
}

// transferBody is POST /v1/calls/{id}/transfer.
type transferBody struct {
	To    *string `json:"to"`
	LegID string  `json:"leg_id"`
	Party string  `json:"party"`
}

// maxDestinationLen bounds a transfer's destination.
const maxDestinationLen = 64

// transferCall serves POST /v1/calls/{id}/transfer: the party the body
// names (leg_id or party; the caller when neither) is blind-transferred
// to "to"; the other party leaves with "transferred".
func (a *API) transferCall(r *http.Request) (int, any, error) {
	var in transferBody
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	cmd, err := in.command()
	if err != nil {
		return 0, nil, err
	}
	id := ident.CallID(r.PathValue("id"))
	if err := a.supervise(r, id, cmd); err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, map[string]any{"object": "call_transfer", "call_id": id, "to": cmd.To,
		"status": "ringing"}, nil
}

func (in transferBody) command() (call.SuperviseTransfer, error) {
	switch {
	case in.To == nil || strings.TrimSpace(*in.To) == "":
		return call.SuperviseTransfer{}, badField("to", "missing_field", "to is required: the extension or number to transfer to")
	case len(*in.To) > maxDestinationLen || !utf8.ValidString(*in.To) || strings.ContainsAny(*in.To, "\r\n\x00"):
		return call.SuperviseTransfer{}, badField("to", "invalid_destination", "to must be an extension or number (at most %d characters, one line)", maxDestinationLen)
	case in.LegID != "" && in.Party != "":
		return call.SuperviseTransfer{}, badField("party", "invalid_request", "name the party to move with leg_id or party, not both")
	case in.Party != "" && in.Party != "caller" && in.Party != "callee":
		return call.SuperviseTransfer{}, badField("party", "invalid_party", "party must be \"caller\" or \"callee\"")
	case len(in.LegID) > 100:
		return call.SuperviseTransfer{}, badField("leg_id", "invalid_leg", "leg_id is not a leg id")
	}
	return call.SuperviseTransfer{To: strings.TrimSpace(*in.To), Leg: ident.LegID(in.LegID), Party: in.Party}, nil
}

// supervise runs a supervisor's command on a live call and maps the call
// core's refusals to HTTP.
func (a *API) supervise(r *http.Request, id ident.CallID, cmd call.Command) error {
	if a.Live == nil {
		return apiErr(http.StatusNotFound, "call_not_found", "no live call %q", id)
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	err := a.Live.Supervise(ctx, id, cmd)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, call.ErrNoCall):
		return apiErr(http.StatusNotFound, "call_not_found", "no live call %q", id)
	case errors.Is(err, call.ErrCallState):
		return apiErr(http.StatusConflict, "call_state", "%s", err.Error())
	case errors.Is(err, call.ErrNoLeg):
		field := "party"
		if t, ok := cmd.(call.SuperviseTransfer); ok && t.Leg != "" {
			field = "leg_id"
		}
		e := apiErr(http.StatusUnprocessableEntity, "invalid_leg", "%s", err.Error())
		e.Details = map[string]any{"field": field}
		return e
	case errors.Is(err, call.ErrDestination):
		e := apiErr(http.StatusUnprocessableEntity, "unroutable_destination", "%s", err.Error())
		e.Details = map[string]any{"field": "to"}
		return e
	case errors.Is(err, context.DeadlineExceeded):
		return apiErr(http.StatusServiceUnavailable, "call_unresponsive", "%s", err.Error())
	}
	return err
}

// emptyBody accepts no body, or an empty JSON object.
func emptyBody(r *http.Request) error {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err != nil {
		return apiErr(http.StatusBadRequest, "invalid_json", "request body: %s", jsonProblem(err))
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	var in struct{}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return decode(r, &in)
}
