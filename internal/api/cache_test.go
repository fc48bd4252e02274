package api

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestResponsesAreNotCached(t *testing.T) {
	demo := func(a *API) {
		a.DemoUsers = func(context.Context) ([]DemoUser, error) {
			return []DemoUser{{Name: "Alice", Extension: "101", UserID: "user_x", Token: "secret"}}, nil
		}
	}
	ta := newTestAPI(t, demo)
	alice := ta.user(t, "Alice", "101")
	check := func(method, path string, body any, status int) {
		t.Helper()
		resp := ta.do(t, method, path, body)
		require.Equal(t, status, resp.Status, "%s %s", method, path)
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"), "%s %s", method, path)
	}
	check("POST", "/v1/user_sessions", map[string]any{"user": alice}, 201)
	check("GET", "/v1/demo/users", nil, 200)
	check("POST", "/v1/users", map[string]any{"name": "Bob", "extension": "102", "sip_password": "bob-sip-pass"}, 201)
	check("POST", "/v1/trunks", map[string]any{"name": "t1", "host": "192.0.2.1", "username": "u", "password": "trunk-pass"}, 201)
	check("GET", "/v1/users/"+alice, nil, 200)
	check("GET", "/v1/users/nope", nil, 404)
}
