// Package api serves Switchboard's REST surface: user tokens and ICE servers
// for softphones (protocol §6), admin resources (users, phone numbers, trunks,
// dial plans, follow-me, ring groups), routing dry runs, call history and
// health. Every error is JSON {error, code, details?} with a
// stable code.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/switchboard-voice/switchboard/internal/auth"
	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/httplimit"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/route"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// Revoker closes a user's live sockets (the signalling hub).
type Revoker interface {
	RevokeUser(user ident.UserID)
}

// API holds what the handlers need.
type API struct {
	Store    store.Store
	Tokens   *auth.Tokens
	AdminKey *auth.AdminKey
	ICE      config.ICE
	Revoker  Revoker
	Presence Presence // nil: no presence endpoints
	Log      *slog.Logger
	// Ready reports whether the server accepts sockets (for /healthz).
	Ready func() bool
	// Draining reports whether the server drains (SIGTERM): /healthz and
	// /readyz then answer 503 "draining" while live calls go on.
	Draining func() bool
	// DefaultAccount is used when a request names no account.
	DefaultAccount ident.AccountID
	// DemoUsers, set only in demo mode, lists demo users with fresh tokens
	// for the web softphone's sign-in picker.
	DemoUsers func(ctx context.Context) ([]DemoUser, error)
	// Trunks, when set, is told about trunk changes and reports
	// registrations; ConfigTrunks are the config file's trunk names
	// (stored trunks may not reuse them).
	Trunks       TrunkRuntime
	ConfigTrunks []string
	// TrunkInfos, when set, lists every trunk calls may go out through
	// (the config file's and the stored ones) for POST /v1/route_test;
	// unset, the stored trunks alone are used.
	TrunkInfos func(ctx context.Context) []route.TrunkInfo
	// RouteOptions are the options calls are planned with.
	RouteOptions route.Options
	// Webhooks is the webhook config (which endpoint URLs are accepted).
	Webhooks config.Webhooks
	// Streams holds GET /v1/events streams (events.go); nil: no stream.
	Streams *EventStreams
	// Live is the call core's live calls (livecalls.go); nil: none listed.
	Live LiveCalls
	// NodeID is this node's cluster id, shown on live calls; empty
	// outside cluster mode.
	NodeID string
	// LiveQuality, when set, reads a live call's quality series so far
	// (quality.go); nil: series only after the call ended.
	LiveQuality LiveQuality
	// RecordingFiles, when set, serves recordings (recordings.go); nil:
	// the server keeps none.
	RecordingFiles RecordingFiles
	// Devices lists users' live devices, System describes the server
	// (system.go); nil: none listed, an empty summary.
	Devices UserDevices
	System  SystemFunc
	now     func() time.Time
}

// Error is an API failure with its HTTP status and stable code.
type Error struct {
	Status  int
	Code    string
	Message string
	Details map[string]any
}

func (e *Error) Error() string { return e.Message }

func apiErr(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// handler is an endpoint that returns its status and body, or an error.
type handler func(r *http.Request) (int, any, error)

// Handler returns the REST mux; other routes (the WebSocket, the web page)
// are added by the caller on the returned mux.
func (a *API) Handler() *http.ServeMux {
	if a.now == nil {
		a.now = time.Now
	}
	mux := http.NewServeMux()
	handle := func(pattern string, methods map[string]handler) {
		mux.HandleFunc(pattern, a.serve(methods))
	}
	handle("/healthz", map[string]handler{"GET": a.health})
	handle("/readyz", map[string]handler{"GET": a.health})
	handle("/v1/user_sessions", map[string]handler{"POST": a.admin(a.createUserSession)})
	handle("/v1/users/{id}/revoke_sessions", map[string]handler{"POST": a.admin(a.revokeSessions)})
	handle("/v1/webrtc/ice-servers", map[string]handler{"GET": a.user(a.iceServers)})
	handle("/v1/me", map[string]handler{"GET": a.me(a.getMe)})
	handle("/v1/me/directory", map[string]handler{"GET": a.me(a.listDirectory)})
	handle("/v1/me/calls", map[string]handler{"GET": a.me(a.listMyCalls)})
	handle("/v1/users", map[string]handler{"GET": a.admin(a.listUsers), "POST": a.admin(a.createUser)})
	handle("/v1/users/{id}", map[string]handler{"GET": a.admin(a.getUser), "POST": a.admin(a.updateUser),
		"PATCH": a.admin(a.updateUser), "DELETE": a.admin(a.deleteUser)})
	handle("/v1/me/presence", map[string]handler{"GET": a.me(a.getMyPresence), "PUT": a.me(a.putMyPresence)})
	handle("/v1/users/{id}/presence", map[string]handler{"GET": a.admin(a.getUserPresence)})
	handle("/v1/users/{id}/follow_me", map[string]handler{
		"GET": a.admin(a.getFollowMe), "PUT": a.admin(a.putFollowMe), "DELETE": a.admin(a.deleteFollowMe)})
	handle("/v1/phone_numbers", map[string]handler{"GET": a.admin(a.listNumbers), "POST": a.admin(a.createNumber)})
	handle("/v1/phone_numbers/{id}", map[string]handler{"GET": a.admin(a.getNumber), "POST": a.admin(a.updateNumber),
		"PATCH": a.admin(a.updateNumber), "DELETE": a.admin(a.deleteNumber)})
	handle("/v1/ring_groups", map[string]handler{"GET": a.admin(a.listRingGroups), "POST": a.admin(a.createRingGroup)})
	handle("/v1/ring_groups/{id}", map[string]handler{"GET": a.admin(a.getRingGroup), "PATCH": a.admin(a.updateRingGroup),
		"POST": a.admin(a.updateRingGroup), "DELETE": a.admin(a.deleteRingGroup)})
	handle("/v1/dial_plan", map[string]handler{"GET": a.admin(a.getDialPlan), "PUT": a.admin(a.putDialPlan)})
	handle("/v1/route_test", map[string]handler{"POST": a.admin(a.routeTest)})
	handle("/v1/trunks", map[string]handler{"GET": a.admin(a.listTrunks), "POST": a.admin(a.createTrunk)})
	handle("/v1/trunks/{id}", map[string]handler{
		"GET": a.admin(a.getTrunk), "POST": a.admin(a.updateTrunk), "DELETE": a.admin(a.deleteTrunk)})
	handle("/v1/calls", map[string]handler{"GET": a.listCalls})
	handle("/v1/calls/{id}", map[string]handler{"GET": a.getCall})
	handle("/v1/calls/{id}/quality", map[string]handler{"GET": a.getCallQuality})
	handle("/v1/demo/users", map[string]handler{"GET": a.demoUsers})
	a.emergencyRoutes(handle)
	a.webhookRoutes(handle)
	a.liveRoutes(handle)
	a.recordingRoutes(handle, mux)
	a.consoleRoutes(handle)
	mux.HandleFunc("/v1/events", a.serveEvents)
	handle("/v1/", map[string]handler{})
	return mux
}

func (a *API) serve(methods map[string]handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h, ok := methods[r.Method]
		if !ok && r.Method == http.MethodHead {
			h, ok = methods["GET"]
		}
		if !ok {
			if len(methods) == 0 {
				a.writeErr(w, r, apiErr(http.StatusNotFound, "not_found", "no such endpoint: %s", r.URL.Path))
				return
			}
			a.writeErr(w, r, apiErr(http.StatusMethodNotAllowed, "method_not_allowed", "%s is not allowed here", r.Method))
			return
		}
		defer func() {
			// A handler bug answers 500 with an id in the log, not a cut connection.
			if v := recover(); v != nil {
				a.writeErr(w, r, fmt.Errorf("panic: %v\n%s", v, debug.Stack()))
			}
		}()
		status, body, err := h(r)
		if err != nil {
			a.writeErr(w, r, err)
			return
		}
		writeJSON(w, status, body)
	}
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	// Tokens, SIP passwords and keys travel in API bodies: no cache (browser
	// or proxy) may keep any of them.
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// writeErr maps err to its status; unknown errors are 500 with an id that
// is also logged.
func (a *API) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	var ae *Error
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, store.ErrNotFound):
		ae = apiErr(http.StatusNotFound, "not_found", "%s", err.Error())
	case errors.Is(err, store.ErrConflict):
		ae = apiErr(http.StatusConflict, "conflict", "%s", err.Error())
	default:
		id := ident.Short()
		a.Log.Error("api request failed", "err_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
		ae = apiErr(http.StatusInternalServerError, "internal_error", "internal error (id %s)", id)
	}
	body := map[string]any{"error": ae.Message, "code": ae.Code}
	if ae.Details != nil {
		body["details"] = ae.Details
	}
	writeJSON(w, ae.Status, body)
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// admin requires the admin API key.
func (a *API) admin(h handler) handler {
	return func(r *http.Request) (int, any, error) {
		key := bearer(r)
		if key == "" {
			return 0, nil, apiErr(http.StatusUnauthorized, "unauthorized", "send the admin API key as Authorization: Bearer <key>")
		}
		if !a.AdminKey.Check(key) {
			id, err := a.Tokens.Verify(r.Context(), key)
			if err != nil {
				return 0, nil, apiErr(http.StatusUnauthorized, "unauthorized", "invalid admin API key")
			}
			if id.Role != store.RoleAdmin {
				return 0, nil, apiErr(http.StatusForbidden, "admin_key_required", "a user token cannot use admin endpoints")
			}
			httplimit.MarkAuthenticated(r.Context())
			httplimit.NoteCaller(r.Context(), "user", string(id.AccountID))
			return a.scopedAdmin(r, id, h)
		}
		httplimit.MarkAuthenticated(r.Context())
		httplimit.NoteCaller(r.Context(), "admin", "")
		return h(r)
	}
}

type identityKey struct{}

// user requires a valid user token and puts its identity in the context.
func (a *API) user(h handler) handler {
	return func(r *http.Request) (int, any, error) {
		id, err := a.userIdentity(r)
		if err != nil {
			return 0, nil, err
		}
		return h(r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
	}
}

func (a *API) userIdentity(r *http.Request) (auth.Identity, error) {
	tok := bearer(r)
	if tok == "" {
		return auth.Identity{}, apiErr(http.StatusUnauthorized, "unauthorized", "send a user token as Authorization: Bearer <token>")
	}
	id, err := a.Tokens.Verify(r.Context(), tok)
	switch {
	case errors.Is(err, auth.ErrTokenExpired):
		return id, apiErr(http.StatusUnauthorized, "token_expired", "the token has expired")
	case errors.Is(err, auth.ErrTokenRevoked):
		return id, apiErr(http.StatusUnauthorized, "token_revoked", "the token was revoked")
	case err != nil && (errors.Is(err, auth.ErrInvalidToken)):
		return id, apiErr(http.StatusUnauthorized, "unauthorized", "invalid token")
	}
	if err == nil {
		httplimit.MarkAuthenticated(r.Context())
		httplimit.NoteCaller(r.Context(), "user", string(id.AccountID))
	}
	return id, err
}

// decode reads a JSON body strictly: unknown fields and trailing data are
// errors, and bodies are capped at 1 MiB.
func decode(r *http.Request, dst any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return apiErr(http.StatusBadRequest, "invalid_json", "request body: %s", jsonProblem(err))
	}
	if dec.More() {
		return apiErr(http.StatusBadRequest, "invalid_json", "request body: trailing data after the JSON object")
	}
	return nil
}

func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &te):
		return fmt.Sprintf("field %q: want %s", te.Field, te.Type)
	case errors.As(err, &se):
		return "malformed JSON"
	case errors.As(err, &mbe):
		return "body is larger than 1 MiB"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	case err.Error() == "EOF":
		return "empty body: send a JSON object"
	}
	return "malformed JSON"
}

func (a *API) health(r *http.Request) (int, any, error) {
	if a.Draining != nil && a.Draining() {
		return 0, nil, apiErr(http.StatusServiceUnavailable, "draining", "draining: live calls go on, new calls and sessions are refused")
	}
	if a.Ready != nil && !a.Ready() {
		return 0, nil, apiErr(http.StatusServiceUnavailable, "not_ready", "not accepting sockets")
	}
	return http.StatusOK, map[string]string{"status": "ok"}, nil
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// DemoUser is a demo user as the sign-in picker shows it.
type DemoUser struct {
	Name      string `json:"name"`
	Extension string `json:"extension"`
	UserID    string `json:"user_id"`
	Token     string `json:"token"`
}

// demoUsers serves /v1/demo/users: demo mode only, a 404 otherwise.
func (a *API) demoUsers(r *http.Request) (int, any, error) {
	if a.DemoUsers == nil {
		return 0, nil, apiErr(http.StatusNotFound, "not_found", "the server is not in demo mode")
	}
	users, err := a.DemoUsers(r.Context())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, users, nil
}
