package sqldb_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/secrets"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/internal/store/sqldb"
)

func TestSecretsAtRest(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		open := e.target(t)
		box := testBox(t)
		db, err := open(sqldb.WithSecrets(testRealm, box))
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
		want := secrets.DigestHA1("alice", testRealm, "sip-pass-4f9e1")
		var stored []string
		for _, q := range []string{"SELECT sip_password || sip_ha1_md5 || sip_ha1_sha256 FROM users",
			"SELECT password || inbound_password FROM trunks", "SELECT value FROM settings"} {
			var v string
			require.NoError(t, sqldb.QueryRow(ctx, db, q).Scan(&v))
			stored = append(stored, v)
		}
		for _, w := range []string{"sip-pass-4f9e1", "trunk-pass-8c2d7", "inbound-pass-3a6b0", "signing-key-71de5", want.MD5, want.SHA256} {
			require.NotContains(t, strings.Join(stored, " "), w, "stored in the clear")
		}
		require.NoError(t, db.Close())

		db, err = open(sqldb.WithSecrets(testRealm, box))
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
		db, err = open(sqldb.WithSecrets(testRealm, testBox(t)))
		require.NoError(t, err)
		defer db.Close()
		_, err = db.GetTrunk(ctx, tr.ID)
		require.ErrorIs(t, err, secrets.ErrOpen)
		_, err = db.GetUser(ctx, u.ID)
		require.ErrorIs(t, err, secrets.ErrOpen)
		_, err = db.GetSecret(ctx, "jwt_secret")
		require.ErrorIs(t, err, secrets.ErrOpen)
	})
}

// TestNoConversionWithoutMasterKey: a store opened without WithSecrets
// leaves old plaintext alone (sealing it with a throwaway key would lose
// it) and still reads it.
func TestNoConversionWithoutMasterKey(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		open := e.target(t)
		db, err := open()
		require.NoError(t, err)
		_, err = sqldb.Exec(ctx, db, "INSERT INTO settings (key, value) VALUES ('jwt_secret', 'plain-key')")
		require.NoError(t, err)
		require.NoError(t, db.Close())
		db, err = open()
		require.NoError(t, err)
		defer db.Close()
		raw, err := db.GetSetting(ctx, "jwt_secret")
		require.NoError(t, err)
		require.Equal(t, "plain-key", raw)
		v, err := db.GetSecret(ctx, "jwt_secret")
		require.NoError(t, err)
		require.Equal(t, "plain-key", v)
	})
}
