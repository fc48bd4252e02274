package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// With sip.trunk_options_interval set, every trunk is pinged with OPTIONS:
// one that answers (sipp) shows reachable with its round trip, one whose
// address refuses (TCP to a closed port) unreachable with the error; a
// trunk created later is pinged too. Without the setting, options is off.
func TestTrunkOptionsPing(t *testing.T) {
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_options_loop.xml", Timeout: time.Minute,
		Args: []string{"-m", "1000"}})
	s := harness.Start(t, func(c *config.Config) { c.SIP.TrunkOptionsInterval = 200 * time.Millisecond })
	// Nothing listens there, and the port is outside the ephemeral range, so
	// no connection of the server's can ever be given it as its own.
	deadPort := harness.FreePort(t, "tcp", "127.0.0.1")

	create := func(name string, port int, transport string) string {
		r := s.Do(t, "POST", "/v1/trunks", admin, map[string]any{"name": name, "host": "127.0.0.1", "port": port,
			"transport": transport, "prefixes": []string{"+1"}})
		require.Equal(t, 201, r.Status, string(r.Raw))
		return r.Body["id"].(string)
	}
	up := create("up", sipp.Port, "udp")
	down := create("down", deadPort, "tcp")
	options := func(id string) map[string]any {
		r := s.Do(t, "GET", "/v1/trunks/"+id, admin, nil)
		require.Equal(t, 200, r.Status, string(r.Raw))
		return r.Body["options"].(map[string]any)
	}
	harness.CheckFor(t, 10*time.Second, func() error {
		if o := options(up); o["state"] != "reachable" {
			return fmt.Errorf("up: %v", o)
		}
		if o := options(down); o["state"] != "unreachable" {
			return fmt.Errorf("down: %v", o)
		}
		return nil
	})
	o := options(up)
	require.Equal(t, 200.0, o["status"])
	require.Greater(t, o["rtt_ms"].(float64), 0.0)
	require.NotNil(t, o["checked_at"])
	t.Logf("trunk up: OPTIONS answered in %.2f ms", o["rtt_ms"])
	o = options(down)
	require.NotEmpty(t, o["last_error"])
	require.Nil(t, o["rtt_ms"])
	require.Contains(t, sipp.Messages(), "OPTIONS sip:127.0.0.1:")

	off := harness.Start(t, nil)
	r := off.Do(t, "POST", "/v1/trunks", admin, map[string]any{"name": "quiet", "host": "127.0.0.1", "port": sipp.Port,
		"prefixes": []string{"+1"}})
	require.Equal(t, 201, r.Status, string(r.Raw))
	require.Equal(t, "off", r.Body["options"].(map[string]any)["state"])
}
