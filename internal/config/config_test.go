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
