package api

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/test/rest"
)

// token mints a user token for user id.
func (ta *testAPI) token(t *testing.T, id string) string {
	t.Helper()
	return ta.must(t, 201, "POST", "/v1/user_sessions", map[string]any{"user": id})["client_secret"].(string)
}

func TestUserRoleField(t *testing.T) {
	ta := newTestAPI(t, nil)
	u := ta.must(t, 201, "POST", "/v1/users", map[string]any{"name": "Alice", "extension": "101"})
	require.Equal(t, "user", u["role"], "new users are plain users")
	id := u["id"].(string)
	u = ta.must(t, 200, "PATCH", "/v1/users/"+id, map[string]any{"role": "admin"})
	require.Equal(t, "admin", u["role"])
	u = ta.must(t, 200, "PATCH", "/v1/users/"+id, map[string]any{"name": "Al"})
	require.Equal(t, "admin", u["role"], "an update without role keeps it")
	u = ta.must(t, 201, "POST", "/v1/users", map[string]any{"name": "Boss", "extension": "102", "role": "admin"})
	require.Equal(t, "admin", u["role"])

	for _, tc := range []struct {
		name, method, path string
		body               any
	}{
		{"create", "POST", "/v1/users", map[string]any{"name": "C", "extension": "103", "role": "root"}},
		{"update", "PATCH", "/v1/users/" + id, map[string]any{"role": ""}},
		{"case", "POST", "/v1/users/" + id, map[string]any{"role": "Admin"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ta.do(t, tc.method, tc.path, tc.body)
			require.Equal(t, 422, r.Status, string(r.Raw))
			require.Equal(t, "invalid_role", r.Body["code"])
			require.Equal(t, map[string]any{"field": "role"}, r.Body["details"])
		})
	}
	r := ta.do(t, "PATCH", "/v1/users/"+id, `{"role":1}`)
	require.Equal(t, 400, r.Status, string(r.Raw))
}

func TestUserValidationNamesField(t *testing.T) {
	ta := newTestAPI(t, nil)
	ta.user(t, "Alice", "101")
	for _, tc := range []struct {
		body        map[string]any
		status      int
		code, field string
	}{
		{map[string]any{"extension": "102"}, 400, "missing_field", "name"},
		{map[string]any{"name": "B", "extension": "x"}, 400, "invalid_extension", "extension"},
		{map[string]any{"name": "B", "extension": "102", "sip_password": "short"}, 400, "invalid_sip_password", "sip_password"},
		{map[string]any{"name": "B", "extension": "101"}, 409, "extension_taken", "extension"},
		{map[string]any{"name": "B", "extension": "102", "sip_username": "101"}, 409, "sip_username_taken", "sip_username"},
	} {
		r := ta.do(t, "POST", "/v1/users", tc.body)
		require.Equal(t, tc.status, r.Status, string(r.Raw))
		require.Equal(t, tc.code, r.Body["code"], string(r.Raw))
		require.Equal(t, map[string]any{"field": tc.field}, r.Body["details"], string(r.Raw))
	}
}

// An admin user's token is an admin key for the user's own account only;
// a plain user's token is refused on every admin endpoint.
func TestAdminRoleScope(t *testing.T) {
	ta := newTestAPI(t, nil)
	ctx := context.Background()
	boss := ta.must(t, 201, "POST", "/v1/users", map[string]any{"name": "Boss", "extension": "100", "role": "admin"})["id"].(string)
	alice := ta.user(t, "Alice", "101")
	num := ta.must(t, 201, "POST", "/v1/phone_numbers", map[string]any{"number": "+14155550100", "user": alice})["id"].(string)
	adminTok, userTok := ta.token(t, boss), ta.token(t, alice)
	do := func(tok, method, path string, body any) rest.Response {
		t.Helper()
		return rest.Do(t, method, ta.srv.URL+path, tok, body)
	}

	// A plain user's token: 403 everywhere admin.
	for _, p := range []string{"/v1/users", "/v1/users/" + alice, "/v1/phone_numbers", "/v1/trunks", "/v1/dial_plan", "/v1/ring_groups"} {
		r := do(userTok, "GET", p, nil)
		require.Equal(t, 403, r.Status, "%s: %s", p, r.Raw)
		require.Equal(t, "admin_key_required", r.Body["code"])
	}
	require.Equal(t, 403, do(userTok, "POST", "/v1/users", map[string]any{"name": "X", "extension": "109"}).Status)

	// The admin user's token works on its own account.
	r := do(adminTok, "GET", "/v1/users", nil)
	require.Equal(t, 200, r.Status, string(r.Raw))
	require.Len(t, r.Body["data"], 2)
	r = do(adminTok, "POST", "/v1/users", map[string]any{"name": "Carol", "extension": "103"})
	require.Equal(t, 201, r.Status, string(r.Raw))
	require.Equal(t, 200, do(adminTok, "PATCH", "/v1/users/"+alice, map[string]any{"do_not_disturb": true}).Status)
	require.Equal(t, 200, do(adminTok, "GET", "/v1/phone_numbers/"+num, nil).Status)
	require.Equal(t, 200, do(adminTok, "GET", "/v1/dial_plan", nil).Status)

	// Another account's users and numbers are out of reach.
	other := store.Account{Name: "Other"}
	require.NoError(t, ta.Store.CreateAccount(ctx, &other))
	acct2 := other.ID
	stranger := ta.must(t, 201, "POST", "/v1/users", map[string]any{"name": "Stranger", "extension": "201", "account_id": string(acct2)})["id"].(string)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/v1/users/" + stranger}, {"PATCH", "/v1/users/" + stranger}, {"DELETE", "/v1/users/" + stranger},
		{"POST", "/v1/users/" + stranger + "/revoke_sessions"}, {"GET", "/v1/users/" + stranger + "/follow_me"},
	} {
		var body any
		if tc.method == "PATCH" {
			body = map[string]any{"name": "Mine"}
		}
		r := do(adminTok, tc.method, tc.path, body)
		require.Equal(t, 404, r.Status, "%s %s: %s", tc.method, tc.path, r.Raw)
	}
	r = do(adminTok, "GET", "/v1/users?account_id="+string(acct2), nil)
	require.Equal(t, 403, r.Status, string(r.Raw))
	require.Equal(t, map[string]any{"field": "account_id"}, r.Body["details"])
	r = do(adminTok, "POST", "/v1/users", map[string]any{"name": "Spy", "extension": "202", "account_id": string(acct2)})
	require.Equal(t, 403, r.Status, string(r.Raw))
	require.Equal(t, "forbidden_account", r.Body["code"])
	r = do(adminTok, "POST", "/v1/user_sessions", map[string]any{"user": stranger})
	require.Equal(t, 404, r.Status, string(r.Raw))
	r = do(adminTok, "GET", "/v1/users", nil)
	require.Len(t, r.Body["data"], 3, "the list holds the own account's users only")

	// Trunks are the server's: the admin key only.
	r = do(adminTok, "GET", "/v1/trunks", nil)
	require.Equal(t, 403, r.Status, string(r.Raw))
	require.Equal(t, "admin_key_required", r.Body["code"])

	// Demoted, the same token loses admin.
	ta.must(t, 200, "PATCH", "/v1/users/"+boss, map[string]any{"role": "user"})
	require.Equal(t, 403, do(adminTok, "GET", "/v1/users", nil).Status)
}

// An admin user's token sees and supervises its own account's calls only.
func TestAdminRoleCalls(t *testing.T) {
	live := &fakeLive{}
	ta := newTestAPI(t, func(a *API) { a.Live = live })
	ctx := context.Background()
	other := store.Account{Name: "Other"}
	require.NoError(t, ta.Store.CreateAccount(ctx, &other))
	boss := ta.must(t, 201, "POST", "/v1/users", map[string]any{"name": "Boss", "extension": "100", "role": "admin"})["id"].(string)
	alice := ta.user(t, "Alice", "101")
	tok := ta.token(t, boss)
	now := time.Now()
	live.calls = []call.LiveCall{
		{ID: "call_mine", Account: ta.DefaultAccount, State: call.StateActive, FromUser: ident.UserID(alice), From: "101", To: "102", StartedAt: now},
		{ID: "call_theirs", Account: other.ID, State: call.StateActive, From: "201", To: "202", StartedAt: now},
	}
	do := func(method, path string, body any) rest.Response {
		t.Helper()
		return rest.Do(t, method, ta.srv.URL+path, tok, body)
	}
	r := do("GET", "/v1/calls?status=active", nil)
	require.Equal(t, 200, r.Status, string(r.Raw))
	data := r.Body["data"].([]any)
	require.Len(t, data, 1, "the other account's call is not listed")
	require.Equal(t, "call_mine", data[0].(map[string]any)["id"])
	r = do("GET", "/v1/calls?account_id="+string(other.ID), nil)
	require.Equal(t, 403, r.Status, string(r.Raw))
	require.Equal(t, "forbidden_account", r.Body["code"])

	require.Equal(t, 404, do("POST", "/v1/calls/call_theirs/hangup", nil).Status)
	require.Equal(t, 404, do("POST", "/v1/calls/call_theirs/transfer", map[string]any{"to": "103"}).Status)
	require.Empty(t, live.got, "nothing reached the other account's call")
	r = do("POST", "/v1/calls/call_mine/hangup", nil)
	require.Equal(t, 200, r.Status, string(r.Raw))
	require.Len(t, live.got, 1)
}

// An admin-role token reads its own account's recordings and not
// another's, which answer as missing.
func TestAdminRoleRecordings(t *testing.T) {
	ta := newTestAPI(t, func(a *API) { a.RecordingFiles = noFiles{} })
	ctx := context.Background()
	other := store.Account{Name: "Other"}
	require.NoError(t, ta.Store.CreateAccount(ctx, &other))
	boss := ta.must(t, 201, "POST", "/v1/users", map[string]any{"name": "Boss", "extension": "100", "role": "admin"})["id"].(string)
	tok := ta.token(t, boss)
	rs := ta.Store.(store.Recordings)
	mk := func(acct ident.AccountID, call ident.CallID) string {
		r := &store.Recording{CallID: call, AccountID: acct, StorageKey: "k/" + string(call), SampleRate: 8000, Channels: 2, StartedAt: time.Now()}
		require.NoError(t, rs.CreateRecording(ctx, r))
		return string(r.ID)
	}
	mine, theirs := mk(ta.DefaultAccount, "call_mine"), mk(other.ID, "call_theirs")
	for _, tt := range []struct {
		path string
		want int
	}{
		{"/v1/recordings/" + mine, 200},
		{"/v1/recordings/" + theirs, 404},
		{"/v1/recordings/rec_nope", 404},
		{"/v1/recordings/" + theirs + "/download-url", 404},
		{"/v1/recordings/" + mine + "/download-url", 200},
	} {
		r := rest.Do(t, "GET", ta.srv.URL+tt.path, tok, nil)
		require.Equal(t, tt.want, r.Status, "%s: %s", tt.path, r.Raw)
	}
	require.Equal(t, 200, rest.Do(t, "GET", ta.srv.URL+"/v1/recordings/"+theirs, testAdminKey, nil).Status, "the admin key sees every account's")
}

// noFiles keeps recordings' rows, never their files.
type noFiles struct{}

func (noFiles) Open(string) (io.ReadSeekCloser, int64, error) { return nil, 0, os.ErrNotExist }
func (noFiles) SignedURL(id ident.RecordingID, exp time.Time) string {
	return "/v1/recordings/" + string(id) + "/file?expires=1&signature=x"
}
func (noFiles) ValidURL(ident.RecordingID, string, string, time.Time) bool { return false }
