package api

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/auth"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/internal/store/sqlite"
	"github.com/switchboard-voice/switchboard/test/rest"
)

const testAdminKey = "test-admin-key"

type noRevoker struct{}

func (noRevoker) RevokeUser(ident.UserID) {}

// testAPI is an API on a fresh database behind an httptest server.
type testAPI struct {
	*API
	srv *httptest.Server
}

func newTestAPI(t *testing.T, mutate func(*API)) *testAPI {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "api.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	acct := store.Account{Name: "Default"}
	require.NoError(t, st.CreateAccount(ctx, &acct))
	tokens, err := auth.NewTokens(ctx, st)
	require.NoError(t, err)
	key, _, err := auth.LoadAdminKey(ctx, st, testAdminKey, false)
	require.NoError(t, err)
	a := &API{Store: st, Tokens: tokens, AdminKey: key, Revoker: noRevoker{}, Log: slog.New(slog.DiscardHandler),
		DefaultAccount: acct.ID}
	if mutate != nil {
		mutate(a)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &testAPI{API: a, srv: srv}
}

// do sends an admin request; body is JSON-encoded unless it is a string.
func (ta *testAPI) do(t *testing.T, method, path string, body any) rest.Response {
	t.Helper()
	return rest.Do(t, method, ta.srv.URL+path, testAdminKey, body)
}

// must sends a request that must answer with status and returns the body.
func (ta *testAPI) must(t *testing.T, status int, method, path string, body any) map[string]any {
	t.Helper()
	r := ta.do(t, method, path, body)
	require.Equal(t, status, r.Status, "%s %s: %s", method, path, r.Raw)
	return r.Body
}

// user creates a user with extension ext and returns its id.
func (ta *testAPI) user(t *testing.T, name, ext string) string {
	t.Helper()
	return ta.must(t, 201, "POST", "/v1/users", map[string]any{"name": name, "extension": ext})["id"].(string)
}

// badRequest is one request that must fail with status and code.
type badRequest struct {
	name   string
	method string
	path   string
	body   any
	status int
	code   string
}

func runBad(t *testing.T, ta *testAPI, tests []badRequest) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ta.do(t, tc.method, tc.path, tc.body)
			status := tc.status
			if status == 0 {
				status = 400
			}
			require.Equal(t, status, r.Status, string(r.Raw))
			require.Equal(t, tc.code, r.Body["code"], string(r.Raw))
			require.NotEmpty(t, r.Body["error"], string(r.Raw))
		})
	}
}

func TestUserCanCallExternal(t *testing.T) {
	ta := newTestAPI(t, nil)
	u := ta.must(t, 201, "POST", "/v1/users", map[string]any{"name": "Alice", "extension": "101"})
	require.Equal(t, true, u["can_call_external"], "new users may call out")
	id := u["id"].(string)
	u = ta.must(t, 200, "PATCH", "/v1/users/"+id, map[string]any{"can_call_external": false})
	require.Equal(t, false, u["can_call_external"])
	u = ta.must(t, 200, "POST", "/v1/users/"+id, map[string]any{"name": "Alicia"})
	require.Equal(t, false, u["can_call_external"])
	u = ta.must(t, 201, "POST", "/v1/users", map[string]any{"name": "Bob", "extension": "102", "can_call_external": false})
	require.Equal(t, false, u["can_call_external"])
	runBad(t, ta, []badRequest{
		{"not a bool", "PATCH", "/v1/users/" + id, `{"can_call_external":"no"}`, 400, "invalid_json"},
	})
}
