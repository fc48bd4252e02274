package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/auth"
	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/secrets"
	"github.com/switchboard-voice/switchboard/internal/server"
)

// kid is the key id in a token's header.
func kid(t *testing.T, token string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	require.NoError(t, err)
	var h struct {
		Kid string `json:"kid"`
	}
	require.NoError(t, json.Unmarshal(raw, &h))
	return h.Kid
}

func TestKeysRotate(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	cli := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		code := run(ctx, append(args, "--data", data), &out, &errOut)
		if code != 0 {
			return out.String() + errOut.String(), os.ErrInvalid
		}
		return out.String(), nil
	}
	verify := func(token string) error {
		cfg := config.Default()
		cfg.DataDir = data
		srv, err := server.Open(ctx, cfg, slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		defer srv.Close()
		_, err = srv.Tokens.Verify(ctx, token)
		return err
	}
	out, err := cli("user", "create", "--name", "Erin", "--ext", "201")
	require.NoError(t, err, out)
	old, err := cli("token", "--user", regexp.MustCompile(`user_[a-z0-9]+`).FindString(out), "--ttl", "48h")
	require.NoError(t, err, old)
	old = strings.TrimSpace(old)
	require.NoError(t, verify(old))

	out, err = cli("keys", "rotate", "--overlap", "24h")
	require.NoError(t, err, out)
	newID := regexp.MustCompile(`key (k[a-z0-9]+)`).FindStringSubmatch(out)
	require.Len(t, newID, 2, out)
	require.Contains(t, out, "Tokens signed with "+kid(t, old)+" stay valid until")

	fresh, err := cli("token", "--user", "201")
	require.NoError(t, err, fresh)
	fresh = strings.TrimSpace(fresh)
	require.Equal(t, newID[1], kid(t, fresh), "new tokens are signed with the new key")
	require.NotEqual(t, kid(t, old), kid(t, fresh))
	require.NoError(t, verify(fresh))
	require.NoError(t, verify(old), "the old key's tokens stay valid during the overlap")

	out, err = cli("keys", "rotate", "--overlap", "0")
	require.NoError(t, err, out)
	require.Contains(t, out, "no longer valid")
	require.ErrorIs(t, verify(old), auth.ErrInvalidToken, "overlap 0 ends the earlier keys' tokens")
	require.ErrorIs(t, verify(fresh), auth.ErrInvalidToken)

	out, err = cli("keys", "rotate", "--overlap", "-1h")
	require.Error(t, err, out)

	// keys generate prints a master key.
	var gen bytes.Buffer
	require.Equal(t, 0, run(ctx, []string{"keys", "generate"}, &gen, &bytes.Buffer{}))
	_, err = secrets.ParseKey(gen.String())
	require.NoError(t, err)
	_, statErr := os.Stat(secrets.DefaultKeyFile(data))
	require.NoError(t, statErr, "without SWITCHBOARD_MASTER_KEY the key file is made beside the data dir")
}
