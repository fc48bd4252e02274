package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMasterKeySettings(t *testing.T) {
	c := Default()
	require.NoError(t, c.ApplyEnv(func(k string) (string, bool) {
		return map[string]string{EnvMasterKey: "from-env"}[k], k == EnvMasterKey
	}))
	require.Equal(t, "from-env", c.MasterKey)
	require.NoError(t, c.Validate())

	c.DataDir = "/var/lib/switchboard"
	c.MasterKeyFile = "/var/lib/switchboard/keys/master.key"
	require.ErrorContains(t, c.Validate(), "master_key_file")
	c.MasterKeyFile = "/etc/switchboard/master.key"
	require.NoError(t, c.Validate())
}
