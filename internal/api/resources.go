package api

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/switchboard-voice/switchboard/internal/auth"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

var (
	e164Re        = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	extensionRe   = regexp.MustCompile(`^[0-9]{2,8}$`)
	sipUsernameRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
)

// ValidE164 reports whether s is an E.164 number (+ and 7–15 digits).
func ValidE164(s string) bool { return e164Re.MatchString(s) }

type userJSON struct {
	Object             string `json:"object"`
	ID                 string `json:"id"`
	AccountID          string `json:"account_id"`
	Name               string `json:"name"`
	Extension          string `json:"extension"`
	SIPUsername        string `json:"sip_username"`
	SIPPassword        string `json:"sip_password,omitempty"` // only when the server generated it
	DoNotDisturb       bool   `json:"do_not_disturb"`
	StatusText         string `json:"status_text"`
	CanCallExternal    bool   `json:"can_call_external"`
	RingTimeoutSeconds int    `json:"ring_timeout_seconds"`
	Role               string `json:"role"`
	CreatedAt          string `json:"created_at"`
	UpdatedAt          string `json:"updated_at"`
}

func userView(u *store.User) userJSON {
	return userJSON{Object: "user", ID: string(u.ID), AccountID: string(u.AccountID), Name: u.Name,
		Extension: u.Extension, SIPUsername: u.SIPUsername, DoNotDisturb: u.DoNotDisturb, StatusText: u.StatusText,
		CanCallExternal: u.CanCallExternal, RingTimeoutSeconds: u.RingTimeoutSeconds, Role: string(u.Role), CreatedAt: rfc3339(u.CreatedAt), UpdatedAt: rfc3339(u.UpdatedAt)}
}

type listJSON[T any] struct {
	Object  string `json:"object"`
	Data    []T    `json:"data"`
	HasMore bool   `json:"has_more"`
}

func listOptions(r *http.Request) (store.ListOptions, error) {
	q := r.URL.Query()
	opt := store.ListOptions{StartingAfter: q.Get("starting_after")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			return opt, apiErr(http.StatusBadRequest, "invalid_limit", "limit must be 1 to 200")
		}
		opt.Limit = n
	}
	return opt, nil
}

// userInput is the body of create and update; pointers tell "absent".
type userInput struct {
	AccountID          *string `json:"account_id"`
	Name               *string `json:"name"`
	Extension          *string `json:"extension"`
	SIPUsername        *string `json:"sip_username"`
	SIPPassword        *string `json:"sip_password"`
	DoNotDisturb       *bool   `json:"do_not_disturb"`
	CanCallExternal    *bool   `json:"can_call_external"`
	RingTimeoutSeconds *int    `json:"ring_timeout_seconds"`
	Role               *string `json:"role"`
}

func (in *userInput) validate(create bool) error {
	if create && in.Name == nil {
		return badField("name", "missing_field", "name is required")
	}
	if create && in.Extension == nil {
		return badField("extension", "missing_field", "extension is required")
	}
	if in.Name != nil {
		if err := checkName("name", *in.Name); err != nil {
			return err
		}
	}
	if in.Extension != nil && !extensionRe.MatchString(*in.Extension) {
		return badField("extension", "invalid_extension", "extension %q must be 2 to 8 digits", *in.Extension)
	}
	if in.SIPUsername != nil && !sipUsernameRe.MatchString(*in.SIPUsername) {
		return badField("sip_username", "invalid_sip_username", "sip_username must be 1 to 64 of A-Z a-z 0-9 . _ -")
	}
	if in.SIPPassword != nil && (len(*in.SIPPassword) < 8 || len(*in.SIPPassword) > 128 || strings.ContainsFunc(*in.SIPPassword, unicode.IsControl)) {
		return badField("sip_password", "invalid_sip_password", "sip_password must be 8 to 128 printable characters")
	}
	if in.RingTimeoutSeconds != nil && (*in.RingTimeoutSeconds < 5 || *in.RingTimeoutSeconds > 600) {
		return badField("ring_timeout_seconds", "invalid_ring_timeout", "ring_timeout_seconds must be 5 to 600")
	}
	if in.Role != nil && !store.Role(*in.Role).Valid() {
		e := badField("role", "invalid_role", "role must be \"user\" or \"admin\"")
		e.Status = http.StatusUnprocessableEntity
		return e
	}
	return nil
}

// conflictFields names the input field of each conflict code.
var conflictFields = map[string]string{"extension_taken": "extension", "sip_username_taken": "sip_username", "number_taken": "number"}

// conflictErr names which unique value is taken.
func conflictErr(err error) error {
	if !errors.Is(err, store.ErrConflict) {
		return err
	}
	msg := err.Error()
	code := "conflict"
	switch {
	case strings.Contains(msg, "extension"):
		code = "extension_taken"
	case strings.Contains(strings.ToLower(msg), "sip username"), strings.Contains(msg, "sip_username"):
		code = "sip_username_taken"
	case strings.Contains(msg, "number"):
		code = "number_taken"
	}
	e := apiErr(http.StatusConflict, code, "%s", strings.TrimSuffix(msg, ": conflict"))
	if field := conflictFields[code]; field != "" {
		e.Details = map[string]any{"field": field}
	}
	return e
}

func (a *API) createUser(r *http.Request) (int, any, error) {
	var in userInput
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	if err := in.validate(true); err != nil {
		return 0, nil, err
	}
	u := store.User{AccountID: a.callerAccount(r), Name: strings.TrimSpace(*in.Name), Extension: *in.Extension}
	if in.AccountID != nil {
		if _, err := a.Store.GetAccount(r.Context(), ident.AccountID(*in.AccountID)); err != nil {
			return 0, nil, apiErr(http.StatusBadRequest, "unknown_account", "account %q does not exist", *in.AccountID)
		}
		u.AccountID = ident.AccountID(*in.AccountID)
	}
	u.SIPUsername = u.Extension
	if in.SIPUsername != nil {
		u.SIPUsername = *in.SIPUsername
	}
	generated := in.SIPPassword == nil
	if generated {
		u.SIPPassword = randomPassword()
	} else {
		u.SIPPassword = *in.SIPPassword
	}
	if in.DoNotDisturb != nil {
		u.DoNotDisturb = *in.DoNotDisturb
	}
	u.CanCallExternal = true // new users may call out unless told otherwise
	if in.CanCallExternal != nil {
		u.CanCallExternal = *in.CanCallExternal
	}
	if in.RingTimeoutSeconds != nil {
		u.RingTimeoutSeconds = *in.RingTimeoutSeconds
	}
	u.Role = store.RoleUser
	if in.Role != nil {
		u.Role = store.Role(*in.Role)
	}
	if err := CheckExtensionLength(r.Context(), a.Store, u.AccountID, u.Extension); err != nil {
		return 0, nil, err
	}
	// Name the extension clash first: the default SIP username is the
	// extension, so the store could report either.
	if _, err := a.Store.GetUserByExtension(r.Context(), u.AccountID, u.Extension); err == nil {
		e := badField("extension", "extension_taken", "extension %q is taken", u.Extension)
		e.Status = http.StatusConflict
		return 0, nil, e
	}
	if err := a.Store.CreateUser(r.Context(), &u); err != nil {
		return 0, nil, conflictErr(err)
	}
	v := userView(&u)
	if generated {
		v.SIPPassword = u.SIPPassword // shown once so a desk phone can be set up
	}
	return http.StatusCreated, v, nil
}

func (a *API) listUsers(r *http.Request) (int, any, error) {
	opt, err := listOptions(r)
	if err != nil {
		return 0, nil, err
	}
	users, more, err := a.Store.ListUsers(r.Context(), ident.AccountID(r.URL.Query().Get("account_id")), opt)
	if err != nil {
		return 0, nil, err
	}
	out := listJSON[userJSON]{Object: "list", Data: make([]userJSON, 0, len(users)), HasMore: more}
	for i := range users {
		out.Data = append(out.Data, userView(&users[i]))
	}
	return http.StatusOK, out, nil
}

func (a *API) getUser(r *http.Request) (int, any, error) {
	u, err := a.Store.GetUser(r.Context(), ident.UserID(r.PathValue("id")))
	if err != nil {
		return 0, nil, userNotFound(r, err)
	}
	return http.StatusOK, userView(u), nil
}

func userNotFound(r *http.Request, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return apiErr(http.StatusNotFound, "user_not_found", "no user %q", r.PathValue("id"))
	}
	return err
}

func (a *API) updateUser(r *http.Request) (int, any, error) {
	var in userInput
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	if in.AccountID != nil {
		return 0, nil, badField("account_id", "immutable_field", "account_id cannot change")
	}
	if err := in.validate(false); err != nil {
		return 0, nil, err
	}
	if in.Name != nil {
		*in.Name = strings.TrimSpace(*in.Name)
	}
	if in.Extension != nil || (in.SIPUsername != nil && in.SIPPassword == nil) {
		u, err := a.Store.GetUser(r.Context(), ident.UserID(r.PathValue("id")))
		if err != nil {
			return 0, nil, userNotFound(r, err)
		}
		if in.Extension != nil {
			if err := CheckExtensionLength(r.Context(), a.Store, u.AccountID, *in.Extension); err != nil {
				return 0, nil, err
			}
		}
		// Only H(username:realm:password) is stored: a new name needs the password again.
		if in.SIPUsername != nil && *in.SIPUsername != u.SIPUsername && in.SIPPassword == nil {
			return 0, nil, badField("sip_password", "sip_password_required",
				"changing sip_username needs sip_password too: only a hash of both is stored")
		}
	}
	a.presenceBefore(ident.UserID(r.PathValue("id")))
	u, err := a.Store.UpdateUser(r.Context(), ident.UserID(r.PathValue("id")), store.UserPatch{
		Name: in.Name, Extension: in.Extension, SIPUsername: in.SIPUsername, SIPPassword: in.SIPPassword,
		DoNotDisturb: in.DoNotDisturb, CanCallExternal: in.CanCallExternal, RingTimeoutSeconds: in.RingTimeoutSeconds,
		Role: (*store.Role)(in.Role)})
	if err != nil {
		return 0, nil, conflictErr(userNotFound(r, err))
	}
	a.presenceAfter(u) // do not disturb, name: watchers hear of it
	return http.StatusOK, userView(u), nil
}

func (a *API) deleteUser(r *http.Request) (int, any, error) {
	id := ident.UserID(r.PathValue("id"))
	if err := a.Store.DeleteUser(r.Context(), id); err != nil {
		return 0, nil, userNotFound(r, err)
	}
	a.Revoker.RevokeUser(id)
	return http.StatusOK, map[string]any{"object": "user", "id": id, "deleted": true}, nil
}

func (a *API) revokeSessions(r *http.Request) (int, any, error) {
	id := ident.UserID(r.PathValue("id"))
	if _, err := a.Store.BumpTokenGeneration(r.Context(), id); err != nil {
		return 0, nil, userNotFound(r, err)
	}
	a.Revoker.RevokeUser(id)
	return http.StatusOK, map[string]any{"user": id, "revoked_at": rfc3339(a.now())}, nil
}

func (a *API) createUserSession(r *http.Request) (int, any, error) {
	var in struct {
		User       string `json:"user"`
		TTLSeconds *int   `json:"ttl_seconds"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	if in.User == "" {
		return 0, nil, apiErr(http.StatusBadRequest, "missing_field", "user is required")
	}
	ttl := auth.DefaultTokenTTL
	if in.TTLSeconds != nil {
		ttl = time.Duration(*in.TTLSeconds) * time.Second
		if ttl <= 0 || ttl > auth.MaxTokenTTL {
			return 0, nil, apiErr(http.StatusBadRequest, "invalid_ttl", "ttl_seconds must be 1 to %d", int(auth.MaxTokenTTL.Seconds()))
		}
	}
	u, err := a.Store.GetUser(r.Context(), ident.UserID(in.User))
	if acct, scoped := scopedAccount(r); scoped && err == nil && u.AccountID != acct {
		err = store.ErrNotFound // another account's user: as if missing
	}
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil, apiErr(http.StatusNotFound, "user_not_found", "no user %q", in.User)
	} else if err != nil {
		return 0, nil, err
	}
	tok, exp, err := a.Tokens.Mint(u, ttl)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, map[string]any{"user": u.ID, "account": u.AccountID,
		"client_secret": tok, "expires_at": rfc3339(exp)}, nil
}

type iceServerJSON struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

func (a *API) iceServers(r *http.Request) (int, any, error) {
	id := r.Context().Value(identityKey{}).(auth.Identity)
	expires := a.now().Add(a.ICE.TURNTTL)
	if a.ICE.TURNSecret == "" {
		expires = id.ExpiresAt
	}
	out := make([]iceServerJSON, 0, len(a.ICE.Servers))
	for _, s := range a.ICE.Servers {
		v := iceServerJSON{URLs: s.URLs, Username: s.Username, Credential: s.Credential}
		if a.ICE.TURNSecret != "" && isTURN(s.URLs) {
			v.Username, v.Credential = auth.TURNCredentials(a.ICE.TURNSecret, id.UserID, expires)
		}
		out = append(out, v)
	}
	return http.StatusOK, map[string]any{"ice_servers": out, "expires_at": rfc3339(expires)}, nil
}

func isTURN(urls []string) bool {
	for _, u := range urls {
		if strings.HasPrefix(u, "turn:") || strings.HasPrefix(u, "turns:") {
			return true
		}
	}
	return false
}

func randomPassword() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// CheckUser validates a user the way POST /v1/users does (for the CLI).
func CheckUser(u store.User) error {
	in := userInput{Name: &u.Name, Extension: &u.Extension, SIPUsername: &u.SIPUsername, SIPPassword: &u.SIPPassword}
	if u.Role != "" {
		role := string(u.Role)
		in.Role = &role
	}
	return in.validate(true)
}
