package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
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
		var rd io.Reader
		if body != nil {
			data, err := json.Marshal(body)
			require.NoError(t, err)
			rd = bytes.NewReader(data)
		}
		req, err := http.NewRequest(method, ta.srv.URL+path, rd)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+testAdminKey)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, status, resp.StatusCode, "%s %s", method, path)
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"), "%s %s", method, path)
	}
	check("POST", "/v1/user_sessions", map[string]any{"user": alice}, 201)
	check("GET", "/v1/demo/users", nil, 200)
	check("POST", "/v1/users", map[string]any{"name": "Bob", "extension": "102", "sip_password": "bob-sip-pass"}, 201)
	check("POST", "/v1/trunks", map[string]any{"name": "t1", "host": "192.0.2.1", "username": "u", "password": "trunk-pass"}, 201)
	check("GET", "/v1/users/"+alice, nil, 200)
	check("GET", "/v1/users/nope", nil, 404)
}
