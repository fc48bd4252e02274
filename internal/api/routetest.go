package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/route"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// FromTrunk is the route_test caller standing for a call coming in
// through a trunk.
const FromTrunk = "trunk"

// RoutePlan is a route.Plan as POST /v1/route_test and the CLI show it.
type RoutePlan struct {
	Object      string          `json:"object"`
	Dialled     string          `json:"dialled"`
	Action      string          `json:"action"`
	Destination string          `json:"destination"`
	Number      string          `json:"number"`
	Emergency   bool            `json:"emergency"`
	ToUser      string          `json:"to_user"`
	Trunks      []string        `json:"trunks"`
	Steps       []RoutePlanStep `json:"steps"`
	Then        string          `json:"then"`
	Reason      string          `json:"reason"`
	// Error says why the call cannot be placed; null when it can.
	Error   *string  `json:"error"`
	Explain []string `json:"explain"`
}

// RoutePlanStep is one ringing step: user ids and numbers rung at once.
type RoutePlanStep struct {
	Targets     []string `json:"targets"`
	RingSeconds int      `json:"ring_seconds"`
}

// PlanView shows p.
func PlanView(p *route.Plan) RoutePlan {
	v := RoutePlan{Object: "route_plan", Dialled: p.Dialled, Action: string(p.Action),
		Destination: p.Destination.Number, Number: p.Number, Emergency: p.Emergency, ToUser: string(p.ToUser),
		Trunks: nonNil(p.Trunks), Steps: make([]RoutePlanStep, 0, len(p.Steps)), Then: p.Then,
		Reason: string(p.Reason), Explain: nonNil(p.Explain)}
	if len(v.Trunks) == 0 && p.Trunk != "" {
		v.Trunks = []string{p.Trunk}
	}
	for _, st := range p.Steps {
		s := RoutePlanStep{Targets: make([]string, 0, len(st.Targets)), RingSeconds: int(st.Ring.Seconds())}
		for _, t := range st.Targets {
			if t.User != "" {
				s.Targets = append(s.Targets, string(t.User))
			} else {
				s.Targets = append(s.Targets, t.Number)
			}
		}
		v.Steps = append(v.Steps, s)
	}
	if p.Err != nil {
		e := p.Err.Error()
		v.Error = &e
	}
	return v
}

// FromDir finds the caller of a route test.
type FromDir interface {
	GetUser(ctx context.Context, id ident.UserID) (*store.User, error)
	GetUserByExtension(ctx context.Context, account ident.AccountID, ext string) (*store.User, error)
}

// RouteFrom resolves a route test's caller: a user id, an extension of
// account, or "trunk" for a call coming in through a trunk to account.
// Errors are *Error with a stable code.
func RouteFrom(ctx context.Context, dir FromDir, account ident.AccountID, from string) (route.From, error) {
	if from == "" {
		return route.From{}, badField("from", "missing_field", `from is required: a user id, an extension or "trunk"`)
	}
	if from == FromTrunk {
		return route.From{Account: account, Inbound: true}, nil
	}
	var u *store.User
	var err error
	switch {
	case strings.HasPrefix(from, "user_"):
		u, err = dir.GetUser(ctx, ident.UserID(from))
	case extensionRe.MatchString(from):
		u, err = dir.GetUserByExtension(ctx, account, from)
	default:
		return route.From{}, badField("from", "invalid_from", `from %q: want a user id, an extension or "trunk"`, from)
	}
	if errors.Is(err, store.ErrNotFound) {
		return route.From{}, badField("from", "unknown_from", "from %q: no such user in the account", from)
	}
	if err != nil {
		return route.From{}, err
	}
	return route.From{Account: u.AccountID, User: u.ID}, nil
}

// StoredTrunkInfos lists the stored trunks for routing.
func StoredTrunkInfos(ctx context.Context, st store.Trunks) ([]route.TrunkInfo, error) {
	var out []route.TrunkInfo
	for t, err := range pages(ctx, func(opt store.ListOptions) ([]store.Trunk, bool, error) {
		return st.ListTrunks(ctx, opt)
	}, func(t store.Trunk) string { return string(t.ID) }) {
		if err != nil {
			return nil, err
		}
		out = append(out, route.TrunkInfo{Name: t.Name, Prefixes: t.Prefixes, Priority: t.Priority})
	}
	return out, nil
}

func (a *API) trunkInfos(ctx context.Context) ([]route.TrunkInfo, error) {
	if a.TrunkInfos != nil {
		return a.TrunkInfos(ctx), nil
	}
	return StoredTrunkInfos(ctx, a.Store)
}

// routeTest serves POST /v1/route_test: how a call from a user, an
// extension or a trunk to a destination would be routed, without placing
// it.
func (a *API) routeTest(r *http.Request) (int, any, error) {
	var in struct {
		From        string `json:"from"`
		Destination string `json:"destination"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	acct, err := a.requestAccount(r)
	if err != nil {
		return 0, nil, err
	}
	from, err := RouteFrom(r.Context(), a.Store, acct, in.From)
	if err != nil {
		return 0, nil, err
	}
	if in.Destination == "" {
		return 0, nil, badField("destination", "missing_field", "destination is required")
	}
	trunks, err := a.trunkInfos(r.Context())
	if err != nil {
		return 0, nil, err
	}
	p := route.PlanCall(r.Context(), a.Store, trunks, from, in.Destination, a.RouteOptions)
	return http.StatusOK, PlanView(p), nil
}
