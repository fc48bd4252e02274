package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSampleFileMatchesDefaults(t *testing.T) {
	c := Default()
	require.NoError(t, c.LoadFile(filepath.Join("..", "..", "switchboard.sample.yaml")))
	require.NoError(t, c.Validate())
	want := Default()
	want.ICE.Servers = []ICEServer{}
	want.Media.NAT1To1IPs = []string{}
	want.Trunks = []Trunk{}
	require.Equal(t, want, c)
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(file, []byte("listen: 127.0.0.1:9000\nsignal:\n  ping_interval: 5s\n"), 0o600))
	c := Default()
	require.NoError(t, c.LoadFile(file))
	env := map[string]string{EnvListen: "127.0.0.1:9100", EnvAdminKey: "k", EnvDemo: "true"}
	require.NoError(t, c.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
	require.Equal(t, "127.0.0.1:9100", c.Listen)
	require.Equal(t, 5*time.Second, c.Signal.PingInterval)
	require.Equal(t, "k", c.AdminKey)
	require.True(t, c.Demo)
	require.NoError(t, c.Validate())
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(file, []byte("lisen: x\n"), 0o600))
	c := Default()
	require.ErrorContains(t, c.LoadFile(file), "lisen")
	require.Error(t, c.LoadFile(filepath.Join(dir, "missing.yaml")))
	require.ErrorContains(t, c.ApplyEnv(func(k string) (string, bool) { return "maybe", k == EnvDemo }), EnvDemo)
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.Listen = "nope"
	c.DataDir = ""
	c.Log.Level = "loud"
	c.Signal.SessionLimit = 0
	c.Signal.PingInterval = 0
	c.ICE.Servers = []ICEServer{{URLs: []string{"http://x"}}}
	c.Media.NAT1To1IPs = []string{"not-an-ip"}
	c.TLS.CertFile = "cert.pem"
	err := c.Validate()
	require.Error(t, err)
	for _, want := range []string{"listen", "data_dir", "log.level", "session_limit", "ping_interval", "ice.servers[0]", "nat_1to1_ips", "tls"} {
		require.True(t, strings.Contains(err.Error(), want), "missing %q in %v", want, err)
	}
}

func TestTrunks(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	yaml := `trunks:
  - name: carrier-a
    host: sip.example.com
    prefixes: ["+1", "+44"]
    username: u1
    priority: 5
  - name: pbx
    host: 192.0.2.10
    port: 5080
    transport: tcp
    inbound_addresses: ["192.0.2.11"]
`
	require.NoError(t, os.WriteFile(file, []byte(yaml), 0o600))
	c := Default()
	require.NoError(t, c.LoadFile(file))
	env := map[string]string{"SWITCHBOARD_TRUNK_CARRIER_A_PASSWORD": "secret"}
	require.NoError(t, c.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
	require.NoError(t, c.Validate())
	require.Len(t, c.Trunks, 2)
	a, b := c.Trunks[0], c.Trunks[1]
	require.Equal(t, "secret", a.Password)
	require.Equal(t, "sip.example.com:5060", a.Addr())
	require.Equal(t, "udp", a.Network())
	require.Equal(t, []string{"+1", "+44"}, a.Prefixes)
	require.Equal(t, "192.0.2.10:5080", b.Addr())
	require.Equal(t, "tcp", b.Network())
}

func TestValidateTrunksReportsEveryProblem(t *testing.T) {
	c := Default()
	c.Trunks = []Trunk{
		{Name: "a b", Host: "sip.example.com"},
		{Name: "dup", Host: "bad host\r\nX: y", Port: 70000, Transport: "tls"},
		{Name: "dup", Host: "192.0.2.1", Username: "u\r\n", Prefixes: []string{"1", "+1x"}, Priority: -1,
			InboundAddresses: []string{"nope"}},
		{Name: "pw", Host: "192.0.2.1", Password: "p"},
	}
	err := c.Validate()
	require.Error(t, err)
	for _, want := range []string{`name "a b"`, "host", "port 70000", `transport "tls"`, `name "dup" is used twice`,
		"username", `prefix "1"`, `prefix "+1x"`, "priority -1", `"nope" is not an IP`, "trunks[3] (pw): username and password go together"} {
		require.True(t, strings.Contains(err.Error(), want), "missing %q in %v", want, err)
	}
}

// The three-node example in deploy/cluster (docs/operations.md) is a
// config this server accepts.
func TestDeployClusterExampleLoads(t *testing.T) {
	c := Default()
	require.NoError(t, c.LoadFile("../../deploy/cluster/node.yaml"))
	require.NoError(t, c.Validate())
	require.Equal(t, "sb-1", c.Cluster.NodeID)
	require.Equal(t, "postgres", c.Store.Driver)
}
