package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/switchboard-voice/switchboard/internal/auth"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// An admin-role user's token uses the admin API for the user's own account
// only. The checks live here, in front of the handlers: a request may name
// no other account (query or body), every {id} in the path must belong to
// the account, and what is the server's rather than an account's (trunks)
// needs the admin key.

type scopeKey struct{}

// scopedAccount returns the account an admin-role token limits r to, and
// false for the admin key.
func scopedAccount(r *http.Request) (ident.AccountID, bool) {
	acct, ok := r.Context().Value(scopeKey{}).(ident.AccountID)
	return acct, ok
}

// callerAccount is the account a create lands in when its body names none:
// the admin user's own, or the default account for the admin key.
func (a *API) callerAccount(r *http.Request) ident.AccountID {
	if acct, ok := scopedAccount(r); ok {
		return acct
	}
	return a.DefaultAccount
}

// serverOnly lists path prefixes of resources shared by every account.
var serverOnly = []string{"/v1/trunks", "/v1/system"}

// scopedAdmin runs h for an admin-role user's token, limited to id's account.
func (a *API) scopedAdmin(r *http.Request, id auth.Identity, h handler) (int, any, error) {
	for _, p := range serverOnly {
		if strings.HasPrefix(r.URL.Path, p) {
			return 0, nil, apiErr(http.StatusForbidden, "admin_key_required", "%s is shared by every account: it needs the admin API key", p)
		}
	}
	acct := id.AccountID
	q := r.URL.Query()
	for _, k := range []string{"account", "account_id"} {
		if v := q.Get(k); v != "" && v != string(acct) {
			return 0, nil, otherAccount(k)
		}
		q.Set(k, string(acct))
	}
	if err := bodyAccount(r, acct); err != nil {
		return 0, nil, err
	}
	ctx := context.WithValue(r.Context(), scopeKey{}, acct)
	r2 := r.WithContext(ctx)
	u := *r.URL
	u.RawQuery = q.Encode()
	r2.URL = &u
	if err := a.ownedByAccount(r2, acct); err != nil {
		return 0, nil, err
	}
	return h(r2)
}

func otherAccount(field string) error {
	e := badField(field, "forbidden_account", "an admin user's token works on its own account only")
	e.Status = http.StatusForbidden
	return e
}

// bodyAccount refuses a JSON body whose account_id (or account) names
// another account, and leaves the body for the handler to read again.
func bodyAccount(r *http.Request, acct ident.AccountID) error {
	if r.Body == nil || r.Method == http.MethodGet || r.Method == http.MethodDelete {
		return nil
	}
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err != nil {
		return apiErr(http.StatusBadRequest, "invalid_json", "request body: %s", jsonProblem(err))
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	var in struct {
		AccountID *string `json:"account_id"`
		Account   *string `json:"account"`
	}
	if json.Unmarshal(raw, &in) != nil {
		return nil // the handler names the problem
	}
	if in.AccountID != nil && *in.AccountID != string(acct) {
		return otherAccount("account_id")
	}
	if in.Account != nil && *in.Account != string(acct) {
		return otherAccount("account")
	}
	return nil
}

// ownedByAccount checks that the resource the path's {id} names belongs to
// acct. One of another account is answered as a missing one, so ids of
// other accounts cannot be probed.
func (a *API) ownedByAccount(r *http.Request, acct ident.AccountID) error {
	id := r.PathValue("id")
	if id == "" {
		return nil
	}
	var owner ident.AccountID
	var err error
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/v1/users/"):
		var u *store.User
		if u, err = a.Store.GetUser(r.Context(), ident.UserID(id)); err == nil {
			owner = u.AccountID
		}
	case strings.HasPrefix(p, "/v1/phone_numbers/"):
		var n *store.PhoneNumber
		if n, err = a.Store.GetPhoneNumber(r.Context(), ident.PhoneNumberID(id)); err == nil {
			owner = n.AccountID
		}
	case strings.HasPrefix(p, "/v1/ring_groups/"):
		var g *store.RingGroup
		if g, err = a.Store.GetRingGroup(r.Context(), ident.RingGroupID(id)); err == nil {
			owner = g.AccountID
		}
	case strings.HasPrefix(p, "/v1/webhook_endpoints/"):
		return nil // looked up in the (rewritten) query's account
	case strings.HasPrefix(p, "/v1/calls/"):
		owner, err = a.callAccount(r.Context(), ident.CallID(id))
	case strings.HasPrefix(p, "/v1/recordings/"):
		rs, ok := a.Store.(store.Recordings)
		if !ok {
			return apiErr(http.StatusNotFound, "not_found", "no recording %q", id)
		}
		var rec *store.Recording
		if rec, err = rs.GetRecording(r.Context(), ident.RecordingID(id)); err == nil {
			owner = rec.AccountID
		}
	default:
		return apiErr(http.StatusForbidden, "admin_key_required", "%s needs the admin API key", p)
	}
	if errors.Is(err, store.ErrNotFound) || (err == nil && owner != acct) {
		return apiErr(http.StatusNotFound, "not_found", "no %s %q", strings.Split(r.URL.Path, "/")[2], id)
	}
	return err
}

// callAccount is the account of a live or recorded call.
func (a *API) callAccount(ctx context.Context, id ident.CallID) (ident.AccountID, error) {
	if a.Live != nil {
		if lc, ok := a.Live.LiveCall(ctx, id); ok {
			return lc.Account, nil
		}
	}
	c, err := a.Store.GetCallRecord(ctx, id)
	if err != nil {
		return "", err
	}
	return c.AccountID, nil
}
