package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// createTrunk creates a trunk through the REST API and returns its body.
func createTrunk(t *testing.T, s *harness.Server, body map[string]any) map[string]any {
	t.Helper()
	r := s.Do(t, "POST", "/v1/trunks", admin, body)
	require.Equal(t, 201, r.Status, string(r.Raw))
	return r.Body
}

func TestTrunkAdminREST(t *testing.T) {
	s := harness.Start(t, func(c *config.Config) {
		c.Trunks = []config.Trunk{{Name: "from-config", Host: "192.0.2.10"}}
	})
	require.Equal(t, 401, s.Do(t, "GET", "/v1/trunks", "", nil).Status)
	r := s.Do(t, "GET", "/v1/trunks", s.Token(t, s.Alice, time.Minute), nil)
	require.Equal(t, 403, r.Status)
	require.Equal(t, "admin_key_required", r.Body["code"])

	tr := createTrunk(t, s, map[string]any{"name": "carrier", "host": "sip.example.com", "username": "acme",
		"password": "s3cret-pass", "prefixes": []string{"+1", "+44"}, "priority": 3,
		"inbound_addresses": []string{"192.0.2.7"}})
	id := tr["id"].(string)
	require.True(t, strings.HasPrefix(id, "trunk_"), id)
	require.Equal(t, "trunk", tr["object"])
	require.EqualValues(t, 5060, tr["port"])
	require.Equal(t, "udp", tr["transport"])
	require.Equal(t, false, tr["register"])
	require.EqualValues(t, 600, tr["register_expires"])
	require.Equal(t, map[string]any{"state": "off", "expires_at": nil, "last_error": nil}, tr["registration"])
	require.NotContains(t, string(s.Do(t, "GET", "/v1/trunks/"+id, admin, nil).Raw), "s3cret")
	_, has := tr["password"]
	require.False(t, has, "the password is write-only")

	for _, tc := range []struct {
		body map[string]any
		code string
	}{
		{map[string]any{"host": "192.0.2.1"}, "missing_field"},
		{map[string]any{"name": "x"}, "missing_field"},
		{map[string]any{"name": "bad name", "host": "192.0.2.1"}, "invalid_name"},
		{map[string]any{"name": "x", "host": "bad host;evil"}, "invalid_host"},
		{map[string]any{"name": "x", "host": "192.0.2.1", "port": 70000}, "invalid_port"},
		{map[string]any{"name": "x", "host": "192.0.2.1", "transport": "tls"}, "invalid_transport"},
		{map[string]any{"name": "x", "host": "192.0.2.1", "username": "u"}, "invalid_credentials"},
		{map[string]any{"name": "x", "host": "192.0.2.1", "username": "a b", "password": "p"}, "invalid_username"},
		{map[string]any{"name": "x", "host": "192.0.2.1", "username": "u", "password": "a\r\nb"}, "invalid_password"},
		{map[string]any{"name": "x", "host": "192.0.2.1", "prefixes": []string{"1"}}, "invalid_prefix"},
		{map[string]any{"name": "x", "host": "192.0.2.1", "priority": -1}, "invalid_priority"},
		{map[string]any{"name": "x", "host": "192.0.2.1", "inbound_addresses": []string{"example.com"}}, "invalid_inbound_address"},
		{map[string]any{"name": "x", "host": "192.0.2.1", "register": true}, "invalid_register"},
		{map[string]any{"name": "x", "host": "192.0.2.1", "username": "u", "password": "p", "register": true,
			"register_expires": 5}, "invalid_register_expires"},
		{map[string]any{"name": "x", "host": "192.0.2.1", "secret": "?"}, "invalid_json"},
	} {
		r := s.Do(t, "POST", "/v1/trunks", admin, tc.body)
		require.Equal(t, 400, r.Status, "%v: %s", tc.body, r.Raw)
		require.Equal(t, tc.code, r.Body["code"], "%v", tc.body)
	}
	for _, name := range []string{"CARRIER", "From-Config"} {
		r := s.Do(t, "POST", "/v1/trunks", admin, map[string]any{"name": name, "host": "192.0.2.1"})
		require.Equal(t, 409, r.Status, string(r.Raw))
		require.Equal(t, "trunk_name_taken", r.Body["code"])
	}

	second := createTrunk(t, s, map[string]any{"name": "backup", "host": "192.0.2.20", "transport": "tcp"})
	r = s.Do(t, "GET", "/v1/trunks?limit=1", admin, nil)
	require.Equal(t, 200, r.Status)
	require.Equal(t, "list", r.Body["object"])
	require.Equal(t, true, r.Body["has_more"])
	require.Len(t, r.Body["data"], 1)
	r = s.Do(t, "GET", "/v1/trunks?starting_after="+id, admin, nil)
	require.Equal(t, false, r.Body["has_more"])
	require.Equal(t, second["id"], r.Body["data"].([]any)[0].(map[string]any)["id"])

	r = s.Do(t, "POST", "/v1/trunks/"+id, admin, map[string]any{"priority": 7, "prefixes": []string{"+1"}})
	require.Equal(t, 200, r.Status, string(r.Raw))
	require.EqualValues(t, 7, r.Body["priority"])
	require.Equal(t, []any{"+1"}, r.Body["prefixes"])
	require.Equal(t, "acme", r.Body["username"], "untouched fields stay")
	r = s.Do(t, "POST", "/v1/trunks/"+id, admin, map[string]any{"name": "backup"})
	require.Equal(t, 409, r.Status)
	r = s.Do(t, "POST", "/v1/trunks/"+id, admin, map[string]any{"transport": "x"})
	require.Equal(t, "invalid_transport", r.Body["code"])

	r = s.Do(t, "DELETE", "/v1/trunks/"+id, admin, nil)
	require.Equal(t, 200, r.Status)
	require.Equal(t, true, r.Body["deleted"])
	for _, m := range []string{"GET", "DELETE"} {
		r = s.Do(t, m, "/v1/trunks/"+id, admin, nil)
		require.Equal(t, 404, r.Status)
		require.Equal(t, "trunk_not_found", r.Body["code"])
	}
	r = s.Do(t, "PUT", "/v1/trunks", admin, nil)
	require.Equal(t, 405, r.Status)
}

// A trunk created through the API carries calls at once; once deleted,
// the next call has no trunk and fails.
func TestTrunkCreatedByRESTCarriesCalls(t *testing.T) {
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_answer.xml", RTPEcho: true})
	s := startWithTrunks(t)
	bob := s.Phone(t, s.Bob, 1000, "")
	tr := createTrunk(t, s, map[string]any{"name": "carrier", "host": sipp.IP, "port": sipp.Port,
		"prefixes": []string{"+1"}})

	out := dial(t, bob, external)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	harness.HearsTone(t, out, 1000)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	sipp.RequireSuccess(t)
	require.Contains(t, sentInvite(t, sipp), "INVITE sip:"+external+"@"+sipp.Addr+" SIP/2.0")

	require.Equal(t, 200, s.Do(t, "DELETE", "/v1/trunks/"+tr["id"].(string), admin, nil).Status)
	out = dial(t, bob, external)
	harness.WaitEnded(t, out, protocol.EndFailed)
}

// registration polls the trunk until its registration is in state.
func registration(t *testing.T, s *harness.Server, id, state string) map[string]any {
	t.Helper()
	var reg map[string]any
	harness.CheckFor(t, 10*time.Second, func() error {
		r := s.Do(t, "GET", "/v1/trunks/"+id, admin, nil)
		reg, _ = r.Body["registration"].(map[string]any)
		if reg == nil || reg["state"] != state {
			return strErr("registration: " + string(r.Raw))
		}
		return nil
	})
	return reg
}

// A trunk that registers: challenged REGISTER, refresh at half the 4 s
// granted, un-REGISTER (Expires: 0) when the trunk is deleted.
func TestTrunkRegistersREST(t *testing.T) {
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_register.xml"})
	s := harness.Start(t, nil)
	tr := createTrunk(t, s, map[string]any{"name": "carrier", "host": sipp.IP, "port": sipp.Port,
		"username": "trunkuser", "password": "trunkpass", "register": true, "register_expires": 120})
	id := tr["id"].(string)
	reg := registration(t, s, id, "registered")
	require.Nil(t, reg["last_error"])
	first, err := time.Parse(time.RFC3339, reg["expires_at"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(4*time.Second), first, 3*time.Second, "sipp grants 4 s")
	harness.CheckFor(t, 10*time.Second, func() error { // refreshed ~2 s later
		reg := registration(t, s, id, "registered")
		if reg["expires_at"] == first.Format(time.RFC3339) {
			return strErr("not refreshed yet")
		}
		return nil
	})
	require.Equal(t, 200, s.Do(t, "DELETE", "/v1/trunks/"+id, admin, nil).Status)
	sipp.RequireSuccess(t)

	msgs := sipp.Messages()
	require.Contains(t, msgs, "REGISTER sip:"+sipp.Addr)
	require.Contains(t, msgs, "From: <sip:trunkuser@"+sipp.IP+">")
	require.Contains(t, msgs, "To: <sip:trunkuser@"+sipp.IP+">")
	require.Contains(t, msgs, "Expires: 120")
	require.Contains(t, msgs, "Contact: <sip:switchboard@"+s.SIP.Addr()+">")
}

func TestTrunkRegistrationFailsREST(t *testing.T) {
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_register.xml"})
	s := harness.Start(t, nil)
	tr := createTrunk(t, s, map[string]any{"name": "carrier", "host": sipp.IP, "port": sipp.Port,
		"username": "trunkuser", "password": "wrong-pass", "register": true})
	reg := registration(t, s, tr["id"].(string), "failed")
	require.Contains(t, reg["last_error"], "403")
	require.Nil(t, reg["expires_at"])
}
