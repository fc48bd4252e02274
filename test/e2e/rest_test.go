package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/auth"
	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/test/harness"
)

const admin = harness.AdminKey

func TestHealth(t *testing.T) {
	s := harness.Start(t, nil)
	r := s.Do(t, "GET", "/healthz", "", nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, "ok", r.Body["status"])
}

func TestAdminAuth(t *testing.T) {
	s := harness.Start(t, nil)
	userTok := s.Token(t, s.Alice, time.Hour)
	endpoints := []struct{ method, path string }{
		{"GET", "/v1/users"}, {"POST", "/v1/users"}, {"GET", "/v1/users/" + string(s.Alice.ID)},
		{"POST", "/v1/users/" + string(s.Alice.ID)}, {"DELETE", "/v1/users/" + string(s.Alice.ID)},
		{"POST", "/v1/users/" + string(s.Alice.ID) + "/revoke_sessions"}, {"POST", "/v1/user_sessions"},
		{"GET", "/v1/phone_numbers"}, {"POST", "/v1/phone_numbers"},
	}
	for _, ep := range endpoints {
		for _, c := range []struct {
			bearer string
			status int
			code   string
		}{
			{"", 401, "unauthorized"}, {"wrong-key", 401, "unauthorized"}, {userTok, 403, "admin_key_required"},
		} {
			r := s.Do(t, ep.method, ep.path, c.bearer, `{}`)
			require.Equal(t, c.status, r.Status, "%s %s with %q", ep.method, ep.path, c.bearer)
			require.Equal(t, c.code, r.Body["code"])
			require.NotEmpty(t, r.Body["error"])
		}
	}
	// Alice still exists: nothing above got through.
	require.Equal(t, 200, s.Do(t, "GET", "/v1/users/"+string(s.Alice.ID), admin, nil).Status)
}

func TestUsersCRUD(t *testing.T) {
	s := harness.Start(t, nil)
	r := s.Do(t, "GET", "/v1/users", admin, nil)
	require.Equal(t, 200, r.Status)
	require.Equal(t, "list", r.Body["object"])
	data := r.Body["data"].([]any)
	require.Len(t, data, 3)
	first := data[0].(map[string]any)
	for _, k := range []string{"id", "name", "extension", "sip_username", "do_not_disturb"} {
		require.Contains(t, first, k)
	}
	require.Equal(t, "101", first["extension"])
	require.Equal(t, "101", first["sip_username"])
	require.NotContains(t, first, "sip_password")

	r = s.Do(t, "POST", "/v1/users", admin, map[string]any{"name": "Dan", "extension": "104"})
	require.Equal(t, 201, r.Status, string(r.Raw))
	id := r.Body["id"].(string)
	require.True(t, strings.HasPrefix(id, "user_"))
	require.Equal(t, "104", r.Body["sip_username"])
	require.NotEmpty(t, r.Body["sip_password"], "generated password is shown once")
	require.NotContains(t, s.Do(t, "GET", "/v1/users/"+id, admin, nil).Body, "sip_password")

	r = s.Do(t, "POST", "/v1/users/"+id, admin, map[string]any{"do_not_disturb": true, "name": "Daniel", "ring_timeout_seconds": 20})
	require.Equal(t, 200, r.Status, string(r.Raw))
	require.Equal(t, true, r.Body["do_not_disturb"])
	require.Equal(t, "Daniel", r.Body["name"])
	require.Equal(t, float64(20), r.Body["ring_timeout_seconds"])
	require.Equal(t, "104", r.Body["extension"])

	r = s.Do(t, "GET", "/v1/users?limit=2", admin, nil)
	require.Equal(t, true, r.Body["has_more"])
	last := r.Body["data"].([]any)[1].(map[string]any)["id"].(string)
	r = s.Do(t, "GET", "/v1/users?limit=2&starting_after="+last, admin, nil)
	require.Len(t, r.Body["data"], 2)
	require.Equal(t, false, r.Body["has_more"])

	require.Equal(t, 200, s.Do(t, "DELETE", "/v1/users/"+id, admin, nil).Status)
	r = s.Do(t, "GET", "/v1/users/"+id, admin, nil)
	require.Equal(t, 404, r.Status)
	require.Equal(t, "user_not_found", r.Body["code"])
	require.Equal(t, 404, s.Do(t, "DELETE", "/v1/users/"+id, admin, nil).Status)
}

func TestUserValidation(t *testing.T) {
	s := harness.Start(t, nil)
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		code   string
	}{
		{"duplicate extension", "POST", "/v1/users", map[string]any{"name": "X", "extension": "101"}, 409, "extension_taken"},
		{"duplicate sip username", "POST", "/v1/users", map[string]any{"name": "X", "extension": "150", "sip_username": "102"}, 409, "sip_username_taken"},
		{"update to taken extension", "POST", "/v1/users/" + string(s.Bob.ID), map[string]any{"extension": "101"}, 409, "extension_taken"},
		{"missing name", "POST", "/v1/users", map[string]any{"extension": "150"}, 400, "missing_field"},
		{"missing extension", "POST", "/v1/users", map[string]any{"name": "X"}, 400, "missing_field"},
		{"bad extension", "POST", "/v1/users", map[string]any{"name": "X", "extension": "1a"}, 400, "invalid_extension"},
		{"blank name", "POST", "/v1/users", map[string]any{"name": "  ", "extension": "150"}, 400, "invalid_name"},
		{"control chars", "POST", "/v1/users", map[string]any{"name": "X\r\nVia: evil", "extension": "150"}, 400, "invalid_name"},
		{"bad sip username", "POST", "/v1/users", map[string]any{"name": "X", "extension": "150", "sip_username": "a b"}, 400, "invalid_sip_username"},
		{"short password", "POST", "/v1/users", map[string]any{"name": "X", "extension": "150", "sip_password": "123"}, 400, "invalid_sip_password"},
		{"bad ring timeout", "POST", "/v1/users", map[string]any{"name": "X", "extension": "150", "ring_timeout_seconds": 1}, 400, "invalid_ring_timeout"},
		{"unknown account", "POST", "/v1/users", map[string]any{"name": "X", "extension": "150", "account_id": "acct_nope"}, 400, "unknown_account"},
		{"unknown field", "POST", "/v1/users", map[string]any{"name": "X", "extension": "150", "extn": "1"}, 400, "invalid_json"},
		{"wrong type", "POST", "/v1/users", map[string]any{"name": 5, "extension": "150"}, 400, "invalid_json"},
		{"malformed", "POST", "/v1/users", `{"name":`, 400, "invalid_json"},
		{"empty body", "POST", "/v1/users", ``, 400, "invalid_json"},
		{"array body", "POST", "/v1/users", `[]`, 400, "invalid_json"},
		{"trailing data", "POST", "/v1/users", `{"name":"X","extension":"150"} {}`, 400, "invalid_json"},
		{"huge body", "POST", "/v1/users", `{"name":"` + strings.Repeat("x", 2<<20) + `"}`, 400, "invalid_json"},
		{"immutable account", "POST", "/v1/users/" + string(s.Bob.ID), map[string]any{"account_id": "acct_x"}, 400, "immutable_field"},
		{"update unknown", "POST", "/v1/users/user_nope", map[string]any{"name": "X"}, 404, "user_not_found"},
		{"bad limit", "GET", "/v1/users?limit=0", nil, 400, "invalid_limit"},
		{"unknown cursor", "GET", "/v1/users?starting_after=user_nope", nil, 404, "not_found"},
		{"wrong method", "PUT", "/v1/users", nil, 405, "method_not_allowed"},
		{"no such endpoint", "GET", "/v1/whatever", nil, 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.Do(t, tt.method, tt.path, admin, tt.body)
			require.Equal(t, tt.status, r.Status, string(r.Raw))
			require.Equal(t, tt.code, r.Body["code"], string(r.Raw))
			require.NotEmpty(t, r.Body["error"])
		})
	}
	r := s.Do(t, "GET", "/v1/users", admin, nil)
	require.Len(t, r.Body["data"], 3, "no failed request created a user")
}

func TestPhoneNumbers(t *testing.T) {
	s := harness.Start(t, nil)
	r := s.Do(t, "POST", "/v1/phone_numbers", admin, map[string]any{"number": "+14155550100", "user": string(s.Alice.ID)})
	require.Equal(t, 201, r.Status, string(r.Raw))
	id := r.Body["id"].(string)
	require.True(t, strings.HasPrefix(id, "pn_"))
	require.Equal(t, string(s.Alice.ID), r.Body["user"])

	for _, tt := range []struct {
		body   any
		status int
		code   string
	}{
		{map[string]any{"number": "+14155550100"}, 409, "number_taken"},
		{map[string]any{"number": "4155550100"}, 400, "invalid_e164"},
		{map[string]any{"number": "+0155550100"}, 400, "invalid_e164"},
		{map[string]any{"number": "+1415555010012345"}, 400, "invalid_e164"},
		{map[string]any{"number": "+1415\r\n5550"}, 400, "invalid_e164"},
		{map[string]any{"number": "+14155550101", "user": "user_nope"}, 400, "unknown_user"},
		{`{"number": 14155550101}`, 400, "invalid_json"},
	} {
		r := s.Do(t, "POST", "/v1/phone_numbers", admin, tt.body)
		require.Equal(t, tt.status, r.Status, string(r.Raw))
		require.Equal(t, tt.code, r.Body["code"])
	}

	r = s.Do(t, "POST", "/v1/phone_numbers/"+id, admin, map[string]any{"user": string(s.Bob.ID)})
	require.Equal(t, 200, r.Status, string(r.Raw))
	require.Equal(t, string(s.Bob.ID), r.Body["user"])
	r = s.Do(t, "POST", "/v1/phone_numbers/"+id, admin, map[string]any{"user": ""})
	require.Equal(t, 200, r.Status)
	require.Nil(t, r.Body["user"])
	r = s.Do(t, "POST", "/v1/phone_numbers/"+id, admin, map[string]any{"user": "user_nope"})
	require.Equal(t, 400, r.Status)

	r = s.Do(t, "GET", "/v1/phone_numbers", admin, nil)
	require.Len(t, r.Body["data"], 1)
	require.Equal(t, "+14155550100", r.Body["data"].([]any)[0].(map[string]any)["number"])
	require.Equal(t, 200, s.Do(t, "GET", "/v1/phone_numbers/"+id, admin, nil).Status)
	require.Equal(t, 200, s.Do(t, "DELETE", "/v1/phone_numbers/"+id, admin, nil).Status)
	r = s.Do(t, "GET", "/v1/phone_numbers/"+id, admin, nil)
	require.Equal(t, 404, r.Status)
	require.Equal(t, "phone_number_not_found", r.Body["code"])
}

func TestUserSessions(t *testing.T) {
	s := harness.Start(t, nil)
	r := s.Do(t, "POST", "/v1/user_sessions", admin, map[string]any{"user": string(s.Alice.ID), "ttl_seconds": 120})
	require.Equal(t, 201, r.Status, string(r.Raw))
	require.Equal(t, string(s.Alice.ID), r.Body["user"])
	require.Equal(t, string(s.Alice.AccountID), r.Body["account"])
	exp, err := time.Parse(time.RFC3339, r.Body["expires_at"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(2*time.Minute), exp, 2*time.Second)
	tok := r.Body["client_secret"].(string)
	_, a := s.Connect(t, tok)
	require.Equal(t, string(s.Alice.ID), a.UserID)

	r = s.Do(t, "POST", "/v1/user_sessions", admin, map[string]any{"user": string(s.Alice.ID)})
	exp, _ = time.Parse(time.RFC3339, r.Body["expires_at"].(string))
	require.WithinDuration(t, time.Now().Add(auth.DefaultTokenTTL), exp, 2*time.Second)

	for _, tt := range []struct {
		body   any
		status int
		code   string
	}{
		{map[string]any{}, 400, "missing_field"},
		{map[string]any{"user": "user_nope"}, 404, "user_not_found"},
		{map[string]any{"user": string(s.Alice.ID), "ttl_seconds": 0}, 400, "invalid_ttl"},
		{map[string]any{"user": string(s.Alice.ID), "ttl_seconds": 8 * 24 * 3600}, 400, "invalid_ttl"},
		{`{"user": 1}`, 400, "invalid_json"},
	} {
		r := s.Do(t, "POST", "/v1/user_sessions", admin, tt.body)
		require.Equal(t, tt.status, r.Status, string(r.Raw))
		require.Equal(t, tt.code, r.Body["code"])
	}

	// Revocation kills earlier tokens for REST too; later ones work.
	require.Equal(t, 200, s.Do(t, "POST", "/v1/users/"+string(s.Alice.ID)+"/revoke_sessions", admin, nil).Status)
	r = s.Do(t, "GET", "/v1/webrtc/ice-servers", tok, nil)
	require.Equal(t, 401, r.Status)
	require.Equal(t, "token_revoked", r.Body["code"])
	fresh := s.Do(t, "POST", "/v1/user_sessions", admin, map[string]any{"user": string(s.Alice.ID)}).Body["client_secret"].(string)
	require.Equal(t, 200, s.Do(t, "GET", "/v1/webrtc/ice-servers", fresh, nil).Status)
	require.Equal(t, 404, s.Do(t, "POST", "/v1/users/user_nope/revoke_sessions", admin, nil).Status)
}

func TestICEServers(t *testing.T) {
	s := harness.Start(t, func(c *config.Config) {
		c.ICE.Servers = []config.ICEServer{
			{URLs: []string{"stun:stun.example.com:3478"}},
			{URLs: []string{"turn:turn.example.com:3478?transport=udp"}},
		}
		c.ICE.TURNSecret = "shh"
		c.ICE.TURNTTL = time.Hour
	})
	tok := s.Token(t, s.Bob, time.Hour)
	r := s.Do(t, "GET", "/v1/webrtc/ice-servers", tok, nil)
	require.Equal(t, 200, r.Status, string(r.Raw))
	servers := r.Body["ice_servers"].([]any)
	require.Len(t, servers, 2)
	stun := servers[0].(map[string]any)
	require.NotContains(t, stun, "username")
	turn := servers[1].(map[string]any)
	exp, err := time.Parse(time.RFC3339, r.Body["expires_at"].(string))
	require.NoError(t, err)
	wantUser, wantCred := auth.TURNCredentials("shh", s.Bob.ID, exp)
	require.Equal(t, wantUser, turn["username"])
	require.Equal(t, wantCred, turn["credential"])
	require.Equal(t, fmt.Sprintf("%d:%s", exp.Unix(), s.Bob.ID), turn["username"])

	require.Equal(t, 401, s.Do(t, "GET", "/v1/webrtc/ice-servers", "", nil).Status)
	require.Equal(t, 401, s.Do(t, "GET", "/v1/webrtc/ice-servers", admin, nil).Status)
	expired, _, err := s.Tokens.MintUntil(&s.Bob, time.Now().Add(-time.Second))
	require.NoError(t, err)
	r = s.Do(t, "GET", "/v1/webrtc/ice-servers", expired, nil)
	require.Equal(t, "token_expired", r.Body["code"])
	require.Equal(t, 405, s.Do(t, "POST", "/v1/webrtc/ice-servers", tok, nil).Status)
}

func TestWebAndDemoEndpoints(t *testing.T) {
	s := harness.Start(t, nil)
	r := s.Do(t, "GET", "/", "", nil)
	require.Equal(t, 200, r.Status)
	require.Contains(t, string(r.Raw), "<html")
	r = s.Do(t, "GET", "/sdk/phone.js", "", nil)
	require.Equal(t, 200, r.Status)
	require.Contains(t, string(r.Raw), "Phone")
	r = s.Do(t, "GET", "/v1/demo/users", "", nil)
	require.Equal(t, 404, r.Status, "no demo users outside demo mode")

	d := harness.Start(t, func(c *config.Config) { c.Demo = true })
	r = d.Do(t, "GET", "/v1/demo/users", "", nil)
	require.Equal(t, 200, r.Status)
	var users []map[string]any
	require.NoError(t, json.Unmarshal(r.Raw, &users))
	require.Len(t, users, 3)
	require.Equal(t, "101", users[0]["extension"])
	_, a := d.Connect(t, users[0]["token"].(string))
	require.Equal(t, users[0]["user_id"], a.UserID)
}
