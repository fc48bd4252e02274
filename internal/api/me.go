package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/switchboard-voice/switchboard/internal/auth"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// The /v1/me family answers a user token about its own user: who it is,
// the account's directory and its own call history. Lists use the envelope
// DialStack's SDK pages through: {object: "list", url, data,
// next_page_url, previous_page_url} (next_page_url is a path relative to
// the API base), plus our has_more.

// pageJSON is a ListResponse page.
type pageJSON[T any] struct {
	Object          string  `json:"object"`
	URL             string  `json:"url"`
	Data            []T     `json:"data"`
	HasMore         bool    `json:"has_more"`
	NextPageURL     *string `json:"next_page_url"`
	PreviousPageURL *string `json:"previous_page_url"`
}

// newPage builds the envelope for path; lastID is the cursor of the next
// page when more follow. Paging is forward only: previous_page_url is null.
func newPage[T any](r *http.Request, path string, data []T, more bool, lastID string) pageJSON[T] {
	p := pageJSON[T]{Object: "list", URL: path, Data: data, HasMore: more}
	if more && lastID != "" {
		q := r.URL.Query() // the same limit and filters, from after lastID
		q.Del("ending_before")
		q.Set("starting_after", lastID)
		next := path + "?" + q.Encode()
		p.NextPageURL = &next
	}
	return p
}

// me requires a user token: the admin key has no "me".
func (a *API) me(h handler) handler {
	u := a.user(h)
	return func(r *http.Request) (int, any, error) {
		if key := bearer(r); key != "" && a.AdminKey.Check(key) {
			return 0, nil, apiErr(http.StatusForbidden, "user_token_required", "/v1/me is for user tokens; the admin key has no user")
		}
		return u(r)
	}
}

func identity(r *http.Request) auth.Identity {
	return r.Context().Value(identityKey{}).(auth.Identity)
}

type meJSON struct {
	Object       string `json:"object"`
	ID           string `json:"id"`
	Account      string `json:"account"`
	Name         string `json:"name"`
	Extension    string `json:"extension"`
	DoNotDisturb bool   `json:"do_not_disturb"`
}

// getMe serves GET /v1/me.
func (a *API) getMe(r *http.Request) (int, any, error) {
	id := identity(r)
	u, err := a.Store.GetUser(r.Context(), id.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil, apiErr(http.StatusNotFound, "user_not_found", "the token's user no longer exists")
	} else if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, meJSON{Object: "user", ID: string(u.ID), Account: string(u.AccountID), Name: u.Name,
		Extension: u.Extension, DoNotDisturb: u.DoNotDisturb}, nil
}

type directoryJSON struct {
	User        string `json:"user"`
	DisplayName string `json:"display_name"`
	Extension   string `json:"extension"`
}

// listDirectory serves GET /v1/me/directory: the users of the token's
// account (the caller included), oldest first.
func (a *API) listDirectory(r *http.Request) (int, any, error) {
	id := identity(r)
	opt, err := listOptions(r)
	if err != nil {
		return 0, nil, err
	}
	if opt.StartingAfter != "" {
		u, err := a.Store.GetUser(r.Context(), ident.UserID(opt.StartingAfter))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return 0, nil, err
		}
		if err != nil || u.AccountID != id.AccountID {
			return 0, nil, badCursor(opt.StartingAfter)
		}
	}
	users, more, err := a.Store.ListUsers(r.Context(), id.AccountID, opt)
	if err != nil {
		return 0, nil, err
	}
	data := make([]directoryJSON, 0, len(users))
	last := ""
	for _, u := range users {
		data = append(data, directoryJSON{User: string(u.ID), DisplayName: u.Name, Extension: u.Extension})
		last = string(u.ID)
	}
	return http.StatusOK, newPage(r, "/v1/me/directory", data, more, last), nil
}

// listMyCalls serves GET /v1/me/calls: the calls the token's user placed or
// received, newest first, narrowed by GET /v1/calls's filters (user: the
// calls with that user).
func (a *API) listMyCalls(r *http.Request) (int, any, error) {
	id := identity(r)
	opt, err := listOptions(r)
	if err != nil {
		return 0, nil, err
	}
	query, err := callQuery(r)
	if err != nil {
		return 0, nil, err
	}
	if opt.StartingAfter != "" {
		c, err := a.Store.GetCallRecord(r.Context(), ident.CallID(opt.StartingAfter))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return 0, nil, err
		}
		if err != nil || c.AccountID != id.AccountID || (c.FromUserID != id.UserID && c.ToUserID != id.UserID) {
			return 0, nil, badCursor(opt.StartingAfter)
		}
	}
	calls, more, err := a.Store.ListCallRecords(r.Context(),
		store.CallFilter{AccountID: id.AccountID, UserID: id.UserID, CallQuery: query, ListOptions: opt})
	if err != nil {
		return 0, nil, err
	}
	data := make([]callJSON, 0, len(calls))
	last := ""
	for i := range calls {
		data = append(data, callView(&calls[i]))
		last = string(calls[i].ID)
	}
	return http.StatusOK, newPage(r, "/v1/me/calls", data, more, last), nil
}

// badCursor refuses a starting_after the caller cannot see (unknown, or
// another account's: the same answer, so ids cannot be probed).
func badCursor(v string) error {
	e := apiErr(http.StatusBadRequest, "invalid_cursor", "starting_after %s is not an id from this list", strconv.Quote(v))
	e.Details = map[string]any{"field": "starting_after"}
	return e
}
