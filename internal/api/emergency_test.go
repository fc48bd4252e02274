package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

// asUser sends a request with a user token and decodes the JSON reply.
func (ta *testAPI) asUser(t *testing.T, tok, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, ta.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestEmergencyAddressRequests(t *testing.T) {
	ta := newTestAPI(t, nil)
	u, err := ta.Store.GetUser(context.Background(), ident.UserID(ta.user(t, "Alice", "101")))
	require.NoError(t, err)
	tok, _, err := ta.Tokens.Mint(u, time.Hour)
	require.NoError(t, err)
	const valid = `{"street":"Main St","city":"Springfield","state":"IL","postal_code":"62701"}`
	status, body := ta.asUser(t, tok, "POST", emergencyPath, valid)
	require.Equal(t, http.StatusCreated, status, body)
	id := body["id"].(string)

	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"unknown field", "POST", emergencyPath, `{"street":"x","latitude":1}`, 400, "invalid_json"},
		{"not an object", "POST", emergencyPath, `[]`, 400, "invalid_json"},
		{"empty object", "POST", emergencyPath, `{}`, 422, "invalid_emergency_address"},
		{"limit 0", "GET", emergencyPath + "?limit=0", "", 400, "invalid_limit"},
		{"limit too big", "GET", emergencyPath + "?limit=101", "", 400, "invalid_limit"},
		{"unknown cursor", "GET", emergencyPath + "?starting_after=emerg_nope", "", 400, "invalid_cursor"},
		{"both cursors", "GET", emergencyPath + "?starting_after=" + id + "&ending_before=" + id, "", 400, "invalid_cursor"},
		{"not an address id", "GET", emergencyPath + "/user_x", "", 404, "not_found"},
		{"no such address", "DELETE", emergencyPath + "/emerg_nope", "", 404, "not_found"},
		{"no such address to unbind", "DELETE", emergencyPath + "/emerg_nope/registered_ip", "", 404, "not_found"},
		{"no PUT", "PUT", emergencyPath + "/" + id, valid, 405, "method_not_allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := ta.asUser(t, tok, tc.method, tc.path, tc.body)
			require.Equal(t, tc.status, status, body)
			require.Equal(t, tc.code, body["code"], body)
		})
	}
	status, body = ta.asUser(t, tok, "POST", emergencyPath, `{}`)
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Equal(t, "street", body["details"].(map[string]any)["field"])
	require.Len(t, body["details"].(map[string]any)["errors"], 4)
}

// A page before the newest address is empty and has no next page (it
// used to index all[-1] and panic).
func TestEmergencyAddressPageBeforeTheFirst(t *testing.T) {
	ta := newTestAPI(t, nil)
	u, err := ta.Store.GetUser(context.Background(), ident.UserID(ta.user(t, "Alice", "101")))
	require.NoError(t, err)
	tok, _, err := ta.Tokens.Mint(u, time.Hour)
	require.NoError(t, err)
	var ids []string
	for _, street := range []string{"First St", "Second St"} {
		status, body := ta.asUser(t, tok, "POST", emergencyPath,
			`{"street":"`+street+`","city":"Springfield","state":"IL","postal_code":"62701"}`)
		require.Equal(t, http.StatusCreated, status, body)
		ids = append(ids, body["id"].(string))
	}
	status, list := ta.asUser(t, tok, "GET", emergencyPath, "")
	require.Equal(t, http.StatusOK, status, list)
	newest := list["data"].([]any)[0].(map[string]any)["id"].(string)
	require.Equal(t, ids[1], newest, "newest first")
	status, page := ta.asUser(t, tok, "GET", emergencyPath+"?ending_before="+newest, "")
	require.Equal(t, http.StatusOK, status, page)
	require.Empty(t, page["data"])
	require.Nil(t, page["next_page_url"])
}
