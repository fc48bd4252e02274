package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

type numberJSON struct {
	Object    string  `json:"object"`
	ID        string  `json:"id"`
	AccountID string  `json:"account_id"`
	Number    string  `json:"number"`
	User      *string `json:"user"`
	// RingGroupID is set instead of User when the number rings a group.
	RingGroupID *string `json:"ring_group_id"`
	CreatedAt   string  `json:"created_at"`
}

func numberView(n *store.PhoneNumber) numberJSON {
	v := numberJSON{Object: "phone_number", ID: string(n.ID), AccountID: string(n.AccountID),
		Number: n.Number, CreatedAt: rfc3339(n.CreatedAt)}
	if n.UserID != "" {
		u := string(n.UserID)
		v.User = &u
	}
	if n.RingGroupID != "" {
		g := string(n.RingGroupID)
		v.RingGroupID = &g
	}
	return v
}

// routedGroup checks that group (when given) is a ring group of account.
func (a *API) routedGroup(r *http.Request, account ident.AccountID, group string) error {
	if group == "" {
		return nil
	}
	g, err := a.Store.GetRingGroup(r.Context(), ident.RingGroupID(group))
	if errors.Is(err, store.ErrNotFound) || (err == nil && g.AccountID != account) {
		return apiErr(http.StatusBadRequest, "unknown_ring_group", "ring group %q does not exist in the account", group)
	}
	return err
}

// oneRoute refuses a number routed to a user and a ring group at once.
func oneRoute(user, group *string) error {
	if user != nil && *user != "" && group != nil && *group != "" {
		return apiErr(http.StatusBadRequest, "conflicting_routes",
			"a number rings a user or a ring group: give user or ring_group_id, not both")
	}
	return nil
}

func numberNotFound(r *http.Request, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return apiErr(http.StatusNotFound, "phone_number_not_found", "no phone number %q", r.PathValue("id"))
	}
	return err
}

// routedUser checks that user (when given) exists in account.
func (a *API) routedUser(r *http.Request, account ident.AccountID, user string) error {
	if user == "" {
		return nil
	}
	u, err := a.Store.GetUser(r.Context(), ident.UserID(user))
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.AccountID != account) {
		return apiErr(http.StatusBadRequest, "unknown_user", "user %q does not exist in the account", user)
	}
	return err
}

func (a *API) createNumber(r *http.Request) (int, any, error) {
	var in struct {
		Number      string  `json:"number"`
		User        *string `json:"user"`
		RingGroupID *string `json:"ring_group_id"`
		AccountID   *string `json:"account_id"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	if err := oneRoute(in.User, in.RingGroupID); err != nil {
		return 0, nil, err
	}
	if !ValidE164(in.Number) {
		return 0, nil, apiErr(http.StatusBadRequest, "invalid_e164", "number %q is not E.164 (+ and 7 to 15 digits)", in.Number)
	}
	n := store.PhoneNumber{AccountID: a.callerAccount(r), Number: in.Number}
	if in.AccountID != nil {
		if _, err := a.Store.GetAccount(r.Context(), ident.AccountID(*in.AccountID)); err != nil {
			return 0, nil, apiErr(http.StatusBadRequest, "unknown_account", "account %q does not exist", *in.AccountID)
		}
		n.AccountID = ident.AccountID(*in.AccountID)
	}
	if in.User != nil {
		if err := a.routedUser(r, n.AccountID, *in.User); err != nil {
			return 0, nil, err
		}
		n.UserID = ident.UserID(*in.User)
	}
	if in.RingGroupID != nil {
		if err := a.routedGroup(r, n.AccountID, *in.RingGroupID); err != nil {
			return 0, nil, err
		}
		n.RingGroupID = ident.RingGroupID(*in.RingGroupID)
	}
	if err := a.Store.CreatePhoneNumber(r.Context(), &n); err != nil {
		return 0, nil, conflictErr(err)
	}
	return http.StatusCreated, numberView(&n), nil
}

func (a *API) listNumbers(r *http.Request) (int, any, error) {
	opt, err := listOptions(r)
	if err != nil {
		return 0, nil, err
	}
	nums, more, err := a.Store.ListPhoneNumbers(r.Context(), ident.AccountID(r.URL.Query().Get("account_id")), opt)
	if err != nil {
		return 0, nil, err
	}
	out := listJSON[numberJSON]{Object: "list", Data: make([]numberJSON, 0, len(nums)), HasMore: more}
	for i := range nums {
		out.Data = append(out.Data, numberView(&nums[i]))
	}
	return http.StatusOK, out, nil
}

func (a *API) getNumber(r *http.Request) (int, any, error) {
	n, err := a.Store.GetPhoneNumber(r.Context(), ident.PhoneNumberID(r.PathValue("id")))
	if err != nil {
		return 0, nil, numberNotFound(r, err)
	}
	return http.StatusOK, numberView(n), nil
}

func (a *API) updateNumber(r *http.Request) (int, any, error) {
	var in struct {
		User        *string `json:"user"`
		RingGroupID *string `json:"ring_group_id"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	if err := oneRoute(in.User, in.RingGroupID); err != nil {
		return 0, nil, err
	}
	id := ident.PhoneNumberID(r.PathValue("id"))
	n, err := a.Store.GetPhoneNumber(r.Context(), id)
	if err != nil {
		return 0, nil, numberNotFound(r, err)
	}
	var patch store.PhoneNumberPatch
	if in.User != nil {
		if err := a.routedUser(r, n.AccountID, *in.User); err != nil {
			return 0, nil, err
		}
		u := ident.UserID(*in.User)
		patch.UserID = &u
	}
	if in.RingGroupID != nil {
		if err := a.routedGroup(r, n.AccountID, *in.RingGroupID); err != nil {
			return 0, nil, err
		}
		g := ident.RingGroupID(*in.RingGroupID)
		patch.RingGroupID = &g
	}
	n, err = a.Store.UpdatePhoneNumber(r.Context(), id, patch)
	if err != nil {
		return 0, nil, numberNotFound(r, err)
	}
	return http.StatusOK, numberView(n), nil
}

func (a *API) deleteNumber(r *http.Request) (int, any, error) {
	id := ident.PhoneNumberID(r.PathValue("id"))
	if err := a.Store.DeletePhoneNumber(r.Context(), id); err != nil {
		return 0, nil, numberNotFound(r, err)
	}
	return http.StatusOK, map[string]any{"object": "phone_number", "id": id, "deleted": true}, nil
}

func optTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := rfc3339(*t)
	return &s
}

// callJSON is a call record as the REST API shows it: the webhooks' view.
type callJSON = store.CallView

func callView(c *store.CallRecord) callJSON { return c.View() }

// callScope returns the filter a caller may see: admin everything, a user
// token only that user's calls.
func (a *API) callScope(r *http.Request) (store.CallFilter, error) {
	key := bearer(r)
	if key != "" && a.AdminKey.Check(key) {
		return store.CallFilter{AccountID: ident.AccountID(r.URL.Query().Get("account_id"))}, nil
	}
	id, err := a.userIdentity(r)
	if err != nil {
		return store.CallFilter{}, err
	}
	if id.Role == store.RoleAdmin { // the admin of the account sees its calls
		if acct := r.URL.Query().Get("account_id"); acct != "" && acct != string(id.AccountID) {
			return store.CallFilter{}, otherAccount("account_id")
		}
		return store.CallFilter{AccountID: id.AccountID}, nil
	}
	return store.CallFilter{AccountID: id.AccountID, UserID: id.UserID}, nil
}

func (a *API) listCalls(r *http.Request) (int, any, error) {
	f, err := a.callScope(r)
	if err != nil {
		return 0, nil, err
	}
	if f.ListOptions, err = listOptions(r); err != nil {
		return 0, nil, err
	}
	if f.CallQuery, err = callQuery(r); err != nil {
		return 0, nil, err
	}
	if status, err := callStatus(r); err != nil {
		return 0, nil, err
	} else if status == "active" {
		return a.listLiveCalls(r, f)
	}
	calls, more, err := a.Store.ListCallRecords(r.Context(), f)
	if err != nil {
		return 0, nil, err
	}
	out := listJSON[callJSON]{Object: "list", Data: make([]callJSON, 0, len(calls)), HasMore: more}
	for i := range calls {
		out.Data = append(out.Data, callView(&calls[i]))
	}
	return http.StatusOK, out, nil
}

func (a *API) getCall(r *http.Request) (int, any, error) {
	c, err := a.visibleCall(r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, a.withLive(r, c), nil
}

// visibleCall returns the record of the call in the path, when the caller
// may see it (admin: any; a user token: that user's calls), else 404.
func (a *API) visibleCall(r *http.Request) (*store.CallRecord, error) {
	f, err := a.callScope(r)
	if err != nil {
		return nil, err
	}
	c, err := a.Store.GetCallRecord(r.Context(), ident.CallID(r.PathValue("id")))
	if err == nil && f.UserID != "" && c.FromUserID != f.UserID && c.ToUserID != f.UserID {
		err = store.ErrNotFound
	}
	if err == nil && f.UserID == "" && f.AccountID != "" && c.AccountID != f.AccountID {
		err = store.ErrNotFound // an account admin's token: that account's calls
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, apiErr(http.StatusNotFound, "call_not_found", "no call %q", r.PathValue("id"))
	}
	return c, err
}
