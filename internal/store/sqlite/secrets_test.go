package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/secrets"
	"github.com/switchboard-voice/switchboard/internal/store"
)

const testRealm = "sb.example"

func testBox(t *testing.T) *secrets.Box {
	t.Helper()
	k, err := secrets.ParseKey(secrets.GenerateKey())
	require.NoError(t, err)
	return secrets.NewBox(k)
}

// requireNotInFiles fails if any of words occurs in the database file or
// its WAL: what a copy of the data directory would give away.
func requireNotInFiles(t *testing.T, path string, words ...string) {
	t.Helper()
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		for _, w := range words {
			require.False(t, strings.Contains(string(b), w), "%q is in %s", w, filepath.Base(f))
		}
	}
}

func TestSecretsAtRest(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sb.db")
	box := testBox(t)
	db, err := Open(ctx, path, WithSecrets(testRealm, box))
	require.NoError(t, err)
	acct := newAccount(t, db, "Acme")
	u := &store.User{AccountID: acct.ID, Name: "Alice", Extension: "101", SIPUsername: "alice", SIPPassword: "sip-pass-4f9e1"}
	require.NoError(t, db.CreateUser(ctx, u))
	tr := &store.Trunk{Name: "up", Host: "192.0.2.1", Username: "u", Password: "trunk-pass-8c2d7",
		InboundAuth: "digest", InboundUsername: "pbx", InboundPassword: "inbound-pass-3a6b0"}
	require.NoError(t, db.CreateTrunk(ctx, tr))
	require.NoError(t, db.SetSecret(ctx, "jwt_secret", "signing-key-71de5"))
	v, err := db.SetSecretIfAbsent(ctx, "jwt_secret", "other")
	require.NoError(t, err)
	require.Equal(t, "signing-key-71de5", v)
	require.NoError(t, db.Close())

	want := secrets.DigestHA1("alice", testRealm, "sip-pass-4f9e1")
	requireNotInFiles(t, path, "sip-pass-4f9e1", "trunk-pass-8c2d7", "inbound-pass-3a6b0", "signing-key-71de5",
		want.MD5, want.SHA256)

	db, err = Open(ctx, path, WithSecrets(testRealm, box))
	require.NoError(t, err)
	got, err := db.GetUserBySIPUsername(ctx, "alice")
	require.NoError(t, err)
	require.Equal(t, want, got.SIPHA1)
	require.Empty(t, got.SIPPassword)
	gt, err := db.GetTrunk(ctx, tr.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"trunk-pass-8c2d7", "inbound-pass-3a6b0"}, []string{gt.Password, gt.InboundPassword})
	v, err = db.GetSecret(ctx, "jwt_secret")
	require.NoError(t, err)
	require.Equal(t, "signing-key-71de5", v)
	require.NoError(t, db.Close())

	// Another master key opens nothing, and says so.
	db, err = Open(ctx, path, WithSecrets(testRealm, testBox(t)))
	require.NoError(t, err)
	defer db.Close()
	_, err = db.GetTrunk(ctx, tr.ID)
	require.ErrorIs(t, err, secrets.ErrOpen)
	_, err = db.GetUser(ctx, u.ID)
	require.ErrorIs(t, err, secrets.ErrOpen)
	_, err = db.GetSecret(ctx, "jwt_secret")
	require.ErrorIs(t, err, secrets.ErrOpen)
}

// TestMigrationSealsOldSecrets opens a database made before 0005, with
// plaintext SIP passwords, trunk passwords and signing key (some of them
// also left in free pages by an earlier password change): Open converts
// them, and no plaintext is left in the files.
func TestMigrationSealsOldSecrets(t *testing.T) {
	ctx := context.Background()
	path, raw := oldSchema(t, 4)
	ts := formatTime(now())
	for _, q := range []string{
		"INSERT INTO accounts (id, name, created_at) VALUES ('acct_a', 'A', ?)",
		"INSERT INTO users (id, account_id, name, extension, sip_username, sip_password, created_at, updated_at) VALUES ('user_a', 'acct_a', 'A', '101', '101', 'first-pass-0b1c2', ?, ?)",
		"UPDATE users SET sip_password = 'old-sip-pass-9d8e7' WHERE id = 'user_a'",
		"INSERT INTO users (id, account_id, name, extension, created_at, updated_at) VALUES ('user_b', 'acct_a', 'B', '102', ?, ?)",
		"INSERT INTO trunks (id, name, host, username, password, inbound_auth, inbound_username, inbound_password, created_at, updated_at) VALUES ('trunk_a', 'a', '192.0.2.1', 'u', 'old-trunk-pass-6f5a4', 'digest', 'pbx', 'old-in-pass-3c2b1', ?, ?)",
		"INSERT INTO trunks (id, name, host, created_at, updated_at) VALUES ('trunk_b', 'b', '192.0.2.2', ?, ?)",
		"INSERT INTO settings (key, value) VALUES ('jwt_secret', 'old-signing-key-a1b2c3'), ('sip_nonce_secret', 'kept')",
	} {
		_, err := raw.ExecContext(ctx, q, ts, ts)
		if err != nil && strings.Contains(err.Error(), "parameter") {
			_, err = raw.ExecContext(ctx, q)
		}
		require.NoError(t, err, q)
	}
	require.NoError(t, raw.Close())

	box := testBox(t)
	db, err := Open(ctx, path, WithSecrets(testRealm, box))
	require.NoError(t, err)
	require.Equal(t, latestVersion(t), schemaVersion(t, db))
	u, err := db.GetUser(ctx, "user_a")
	require.NoError(t, err)
	require.Equal(t, secrets.DigestHA1("101", testRealm, "old-sip-pass-9d8e7"), u.SIPHA1)
	b, err := db.GetUser(ctx, "user_b")
	require.NoError(t, err)
	require.True(t, b.SIPHA1.IsZero())
	tr, err := db.GetTrunk(ctx, "trunk_a")
	require.NoError(t, err)
	require.Equal(t, []string{"old-trunk-pass-6f5a4", "old-in-pass-3c2b1"}, []string{tr.Password, tr.InboundPassword})
	tr, err = db.GetTrunk(ctx, "trunk_b")
	require.NoError(t, err)
	require.Empty(t, tr.Password)
	v, err := db.GetSecret(ctx, "jwt_secret")
	require.NoError(t, err)
	require.Equal(t, "old-signing-key-a1b2c3", v)
	v, err = db.GetSetting(ctx, "sip_nonce_secret")
	require.NoError(t, err)
	require.Equal(t, "kept", v, "other settings are left alone")
	require.NoError(t, db.Close())
	requireNotInFiles(t, path, "first-pass-0b1c2", "old-sip-pass-9d8e7", "old-trunk-pass-6f5a4", "old-in-pass-3c2b1", "old-signing-key-a1b2c3")

	// Opening again converts nothing more and reads the same.
	db, err = Open(ctx, path, WithSecrets(testRealm, box))
	require.NoError(t, err)
	defer db.Close()
	u2, err := db.GetUser(ctx, "user_a")
	require.NoError(t, err)
	require.Equal(t, u.SIPHA1, u2.SIPHA1)
}

// TestNoConversionWithoutMasterKey: a store opened without WithSecrets
// leaves old plaintext alone (sealing it with a throwaway key would lose
// it) and still reads it.
func TestNoConversionWithoutMasterKey(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sb.db")
	db, err := Open(ctx, path)
	require.NoError(t, err)
	_, err = db.db.ExecContext(ctx, "INSERT INTO settings (key, value) VALUES ('jwt_secret', 'plain-key')")
	require.NoError(t, err)
	require.NoError(t, db.Close())
	db, err = Open(ctx, path)
	require.NoError(t, err)
	defer db.Close()
	raw, err := db.GetSetting(ctx, "jwt_secret")
	require.NoError(t, err)
	require.Equal(t, "plain-key", raw)
	v, err := db.GetSecret(ctx, "jwt_secret")
	require.NoError(t, err)
	require.Equal(t, "plain-key", v)
}
