package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStoreConfig(t *testing.T) {
	tests := []struct {
		name    string
		store   Store
		env     map[string]string
		wantErr string
	}{
		{name: "default sqlite", store: defaultStore()},
		{name: "sqlite ignores dsn", store: Store{Driver: "sqlite", DSN: "whatever"}},
		{name: "postgres with dsn", store: Store{Driver: "postgres", DSN: "postgres://u@127.0.0.1/sb"}},
		{name: "postgres dsn from env", store: Store{Driver: "postgres"}, env: map[string]string{EnvStoreDSN: "host=127.0.0.1"}},
		{name: "postgres without dsn", store: Store{Driver: "postgres"}, wantErr: "store.dsn: must be set"},
		{name: "unknown driver", store: Store{Driver: "mysql"}, wantErr: `store.driver "mysql": want sqlite or postgres`},
		{name: "empty driver", store: Store{}, wantErr: `store.driver "": want sqlite or postgres`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Store = tc.store
			require.NoError(t, c.ApplyEnv(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }))
			err := c.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}
