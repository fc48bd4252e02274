package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// Ring group limits and defaults.
const (
	maxRingGroupMembers     = 50
	defaultRingGroupSeconds = 30
)

type ringGroupJSON struct {
	Object      string   `json:"object"`
	ID          string   `json:"id"`
	AccountID   string   `json:"account_id"`
	Name        string   `json:"name"`
	Extension   string   `json:"extension"`
	Members     []string `json:"members"`
	RingSeconds int      `json:"ring_seconds"`
	Next        string   `json:"next"`
	CreatedAt   string   `json:"created_at"`
	UpdatedAt   string   `json:"updated_at"`
}

func ringGroupView(g *store.RingGroup) ringGroupJSON {
	members := make([]string, len(g.Members))
	for i, m := range g.Members {
		members[i] = string(m)
	}
	return ringGroupJSON{Object: "ring_group", ID: string(g.ID), AccountID: string(g.AccountID), Name: g.Name,
		Extension: g.Extension, Members: members, RingSeconds: g.RingSeconds, Next: g.Next,
		CreatedAt: rfc3339(g.CreatedAt), UpdatedAt: rfc3339(g.UpdatedAt)}
}

// ringGroupInput is the body of create and update; pointers tell "absent".
type ringGroupInput struct {
	AccountID   *string   `json:"account_id"`
	Name        *string   `json:"name"`
	Extension   *string   `json:"extension"`
	Members     *[]string `json:"members"`
	RingSeconds *int      `json:"ring_seconds"`
	Next        *string   `json:"next"`
}

func (in *ringGroupInput) apply(g *store.RingGroup) {
	if in.Name != nil {
		g.Name = strings.TrimSpace(*in.Name)
	}
	if in.Extension != nil {
		g.Extension = *in.Extension
	}
	if in.Members != nil {
		g.Members = make([]ident.UserID, len(*in.Members))
		for i, m := range *in.Members {
			g.Members[i] = ident.UserID(m)
		}
	}
	if in.RingSeconds != nil {
		g.RingSeconds = *in.RingSeconds
	}
	if in.Next != nil {
		g.Next = *in.Next
	}
}

// RingGroupDir is what CheckRingGroup reads: the members and the dial plan.
type RingGroupDir interface {
	GetUser(ctx context.Context, id ident.UserID) (*store.User, error)
	GetDialPlan(ctx context.Context, account ident.AccountID) (*store.DialPlan, error)
}

// CheckRingGroup validates g: a name, an extension that is empty or fits
// the dial plan, 1 to 50 distinct members who are users of g's account,
// ring_seconds 5 to 300, and a next destination that is empty or valid
// and not the group itself. Errors are *Error with a stable code.
func CheckRingGroup(ctx context.Context, dir RingGroupDir, g *store.RingGroup) error {
	switch {
	case checkName("name", g.Name) != nil:
		return checkName("name", g.Name)
	case g.Extension != "" && !extensionRe.MatchString(g.Extension):
		return badField("extension", "invalid_extension", "extension %q must be 2 to 8 digits (or empty for none)", g.Extension)
	case len(g.Members) == 0 || len(g.Members) > maxRingGroupMembers:
		return badField("members", "invalid_members", "members: want 1 to %d user ids", maxRingGroupMembers)
	case g.RingSeconds < minRingSeconds || g.RingSeconds > maxRingSeconds:
		return badField("ring_seconds", "invalid_ring_seconds", "ring_seconds must be %d to %d", minRingSeconds, maxRingSeconds)
	case g.Next != "" && g.Next == g.Extension:
		return badField("next", "invalid_next", "next %q is the group's own extension: the call would loop", g.Next)
	}
	if err := checkForward("next", "invalid_next", g.Next); err != nil {
		return err
	}
	if err := CheckExtensionLength(ctx, dir, g.AccountID, g.Extension); err != nil {
		return err
	}
	for i, m := range g.Members {
		field := fmt.Sprintf("members[%d]", i)
		if slices.Index(g.Members, m) != i {
			return badField(field, "invalid_members", "member %q is listed twice", m)
		}
		u, err := dir.GetUser(ctx, m)
		if errors.Is(err, store.ErrNotFound) || (err == nil && u.AccountID != g.AccountID) {
			return badField(field, "unknown_user", "member %q is not a user of the account", m)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func ringGroupNotFound(r *http.Request, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return apiErr(http.StatusNotFound, "ring_group_not_found", "no ring group %q", r.PathValue("id"))
	}
	return err
}

func (a *API) createRingGroup(r *http.Request) (int, any, error) {
	var in ringGroupInput
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	g := store.RingGroup{AccountID: a.callerAccount(r), RingSeconds: defaultRingGroupSeconds}
	if in.AccountID != nil {
		if _, err := a.Store.GetAccount(r.Context(), ident.AccountID(*in.AccountID)); err != nil {
			return 0, nil, apiErr(http.StatusBadRequest, "unknown_account", "account %q does not exist", *in.AccountID)
		}
		g.AccountID = ident.AccountID(*in.AccountID)
	}
	in.apply(&g)
	if in.Name == nil {
		return 0, nil, badField("name", "missing_field", "name is required")
	}
	if in.Members == nil {
		return 0, nil, badField("members", "missing_field", "members is required")
	}
	if err := CheckRingGroup(r.Context(), a.Store, &g); err != nil {
		return 0, nil, err
	}
	if err := a.Store.CreateRingGroup(r.Context(), &g); err != nil {
		return 0, nil, conflictErr(err)
	}
	return http.StatusCreated, ringGroupView(&g), nil
}

func (a *API) listRingGroups(r *http.Request) (int, any, error) {
	opt, err := listOptions(r)
	if err != nil {
		return 0, nil, err
	}
	gs, more, err := a.Store.ListRingGroups(r.Context(), ident.AccountID(r.URL.Query().Get("account_id")), opt)
	if err != nil {
		return 0, nil, err
	}
	out := listJSON[ringGroupJSON]{Object: "list", Data: make([]ringGroupJSON, 0, len(gs)), HasMore: more}
	for i := range gs {
		out.Data = append(out.Data, ringGroupView(&gs[i]))
	}
	return http.StatusOK, out, nil
}

func (a *API) getRingGroup(r *http.Request) (int, any, error) {
	g, err := a.Store.GetRingGroup(r.Context(), ident.RingGroupID(r.PathValue("id")))
	if err != nil {
		return 0, nil, ringGroupNotFound(r, err)
	}
	return http.StatusOK, ringGroupView(g), nil
}

func (a *API) updateRingGroup(r *http.Request) (int, any, error) {
	var in ringGroupInput
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	if in.AccountID != nil {
		return 0, nil, apiErr(http.StatusBadRequest, "immutable_field", "account_id cannot change")
	}
	g, err := a.Store.GetRingGroup(r.Context(), ident.RingGroupID(r.PathValue("id")))
	if err != nil {
		return 0, nil, ringGroupNotFound(r, err)
	}
	in.apply(g)
	if err := CheckRingGroup(r.Context(), a.Store, g); err != nil {
		return 0, nil, err
	}
	if err := a.Store.UpdateRingGroup(r.Context(), g); err != nil {
		return 0, nil, conflictErr(ringGroupNotFound(r, err))
	}
	return http.StatusOK, ringGroupView(g), nil
}

func (a *API) deleteRingGroup(r *http.Request) (int, any, error) {
	id := ident.RingGroupID(r.PathValue("id"))
	if err := a.Store.DeleteRingGroup(r.Context(), id); err != nil {
		return 0, nil, ringGroupNotFound(r, err)
	}
	return http.StatusOK, map[string]any{"object": "ring_group", "id": id, "deleted": true}, nil
}
