package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// TestUserDevicesListed has alice on a pion softphone and a baresip desk
// phone: GET /v1/users/{id}/devices lists both with their user agents and
// addresses, and the socket as detached once it drops (within its grace).
// GET /v1/system counts them.
func TestUserDevicesListed(t *testing.T) {
	s := harness.Start(t, nil)
	p, err := softphone.Connect(harness.Ctx(t, 10*time.Second), softphone.Config{URL: s.WebSocketURL(),
		Token: s.Token(t, s.Alice, time.Hour), UserAgent: "e2e-softphone/1.0"})
	require.NoError(t, err)
	desk := aliceDesk(t, s, harness.BaresipOptions{})
	path := "/v1/users/" + string(s.Alice.ID) + "/devices"

	devices := func() (web, sip []map[string]any) {
		t.Helper()
		r := s.Do(t, "GET", path, harness.AdminKey, nil)
		require.Equal(t, 200, r.Status, string(r.Raw))
		require.Equal(t, "list", r.Body["object"])
		for _, d := range r.Body["data"].([]any) {
			d := d.(map[string]any)
			switch d["kind"] {
			case "webrtc":
				web = append(web, d)
			case "sip":
				sip = append(sip, d)
			}
		}
		return web, sip
	}
	web, sip := devices()
	require.Len(t, web, 1)
	require.Equal(t, "e2e-softphone/1.0", web[0]["user_agent"])
	require.Equal(t, "127.0.0.1", web[0]["source"])
	require.Equal(t, "connected", web[0]["state"])
	require.NotEmpty(t, web[0]["session_id"])
	at, err := time.Parse(time.RFC3339, web[0]["connected_at"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), at, time.Minute)

	require.Len(t, sip, 1)
	require.Contains(t, strings.ToLower(sip[0]["user_agent"].(string)), "baresip")
	require.Equal(t, "udp", sip[0]["transport"])
	port := desk.SIPAddr[strings.LastIndex(desk.SIPAddr, ":"):]
	require.Contains(t, sip[0]["contact"], port)
	require.True(t, strings.HasPrefix(sip[0]["source"].(string), "127.0.0.1:"), sip[0]["source"])
	exp, err := time.Parse(time.RFC3339, sip[0]["expires_at"].(string))
	require.NoError(t, err)
	require.True(t, exp.After(time.Now()), "expires_at %s", exp)

	sys := s.Do(t, "GET", "/v1/system", harness.AdminKey, nil)
	require.Equal(t, 200, sys.Status, string(sys.Raw))
	require.Equal(t, map[string]any{"live_calls": 0.0, "sockets": 1.0, "registrations": 1.0}, sys.Body["counts"])
	require.Equal(t, "dev", sys.Body["version"])
	require.Contains(t, fmt.Sprint(sys.Body["config_problems"]), "admin_key_weak", "the harness's admin key is short")

	// The socket drops: the session stays, detached, for its grace.
	require.NoError(t, p.Close())
	harness.CheckFor(t, 5*time.Second, func() error {
		web, _ := devices()
		if len(web) != 1 || web[0]["state"] != "detached" {
			return fmt.Errorf("want one detached session, got %v", web)
		}
		return nil
	})
}
