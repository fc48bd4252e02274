package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/switchboard-voice/switchboard/internal/auth"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/presence"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// Presence is the presence service as the API uses it.
type Presence interface {
	// Get returns a user's presence; presence.ErrUnavailable when the
	// user does not exist.
	Get(user ident.UserID) (presence.State, error)
	// UserChanged takes a user's record after an update, so watchers
	// hear of do not disturb and status text changes.
	UserChanged(u *store.User)
}

// MaxStatusText bounds a user's status text, in characters.
const MaxStatusText = 100

type presenceJSON struct {
	Object       string `json:"object"`
	UserID       string `json:"user_id"`
	Name         string `json:"name"`
	Status       string `json:"status"`
	DoNotDisturb bool   `json:"do_not_disturb"`
	StatusText   string `json:"status_text"`
	UpdatedAt    string `json:"updated_at"`
}

func presenceView(s presence.State) presenceJSON {
	return presenceJSON{Object: "presence", UserID: string(s.User), Name: s.Name, Status: string(s.Status),
		DoNotDisturb: s.DoNotDisturb, StatusText: s.StatusText, UpdatedAt: rfc3339(s.UpdatedAt)}
}

// presenceInput is PUT /v1/me/presence's body; nil fields stay as they are.
type presenceInput struct {
	StatusText   *string `json:"status_text"`
	DoNotDisturb *bool   `json:"do_not_disturb"`
}

// unprocessable is a 422 naming the field at fault.
func unprocessable(field, code, format string, args ...any) *Error {
	e := apiErr(http.StatusUnprocessableEntity, code, format, args...)
	e.Details = map[string]any{"field": field}
	return e
}

func (in *presenceInput) validate() error {
	if in.StatusText == nil && in.DoNotDisturb == nil {
		return unprocessable("status_text", "missing_field", "send status_text, do_not_disturb or both")
	}
	if in.StatusText == nil {
		return nil
	}
	t := strings.TrimSpace(*in.StatusText)
	switch {
	case !utf8.ValidString(t) || strings.ContainsRune(t, utf8.RuneError):
		return unprocessable("status_text", "invalid_status_text", "status_text must be valid UTF-8")
	case strings.ContainsFunc(t, unicode.IsControl):
		return unprocessable("status_text", "invalid_status_text", "status_text must be one line of printable characters")
	case utf8.RuneCountInString(t) > MaxStatusText:
		return unprocessable("status_text", "invalid_status_text", "status_text is at most %d characters", MaxStatusText)
	}
	in.StatusText = &t
	return nil
}

// decodePresence reads the body as decode does, except that a field of
// the wrong type is a 422 naming it.
func decodePresence(r *http.Request) (presenceInput, error) {
	var in presenceInput
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	err := dec.Decode(&in)
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te):
		return in, unprocessable(te.Field, "invalid_field", "%s: want %s", te.Field, te.Type)
	case err != nil:
		return in, apiErr(http.StatusBadRequest, "invalid_json", "request body: %s", jsonProblem(err))
	case dec.More():
		return in, apiErr(http.StatusBadRequest, "invalid_json", "request body: trailing data after the JSON object")
	}
	return in, nil
}

// putMyPresence serves PUT /v1/me/presence: the user sets their status
// text and do not disturb; watchers hear of it.
func (a *API) putMyPresence(r *http.Request) (int, any, error) {
	id := r.Context().Value(identityKey{}).(auth.Identity)
	in, err := decodePresence(r)
	if err != nil {
		return 0, nil, err
	}
	if err := in.validate(); err != nil {
		return 0, nil, err
	}
	a.presenceBefore(id.UserID)
	u, err := a.Store.UpdateUser(r.Context(), id.UserID, store.UserPatch{StatusText: in.StatusText, DoNotDisturb: in.DoNotDisturb})
	if err != nil {
		return 0, nil, err
	}
	a.presenceAfter(u)
	return a.presenceOf(u.ID)
}

// getMyPresence serves GET /v1/me/presence.
func (a *API) getMyPresence(r *http.Request) (int, any, error) {
	return a.presenceOf(r.Context().Value(identityKey{}).(auth.Identity).UserID)
}

// getUserPresence serves the admin GET /v1/users/{id}/presence.
func (a *API) getUserPresence(r *http.Request) (int, any, error) {
	return a.presenceOf(ident.UserID(r.PathValue("id")))
}

func (a *API) presenceOf(user ident.UserID) (int, any, error) {
	if a.Presence == nil {
		return 0, nil, apiErr(http.StatusNotFound, "not_found", "presence is not enabled on this server")
	}
	s, err := a.Presence.Get(user)
	if errors.Is(err, presence.ErrUnavailable) {
		return 0, nil, apiErr(http.StatusNotFound, "user_not_found", "no user %q", user)
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, presenceView(s), nil
}

// presenceBefore makes presence read the user as they are before an
// update, so that it sees what the update changes.
func (a *API) presenceBefore(user ident.UserID) {
	if a.Presence != nil {
		_, _ = a.Presence.Get(user)
	}
}

// presenceAfter gives presence the updated user.
func (a *API) presenceAfter(u *store.User) {
	if a.Presence != nil {
		a.Presence.UserChanged(u)
	}
}
