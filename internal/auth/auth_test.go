package auth

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/internal/store/sqlite"
)

func setup(t *testing.T) (*sqlite.DB, *store.User) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	acct := store.Account{Name: "A"}
	require.NoError(t, db.CreateAccount(context.Background(), &acct))
	u := store.User{AccountID: acct.ID, Name: "U", Extension: "100"}
	require.NoError(t, db.CreateUser(context.Background(), &u))
	return db, &u
}

func TestTokens(t *testing.T) {
	ctx := context.Background()
	db, u := setup(t)
	tk, err := NewTokens(ctx, db)
	require.NoError(t, err)
	tk2, err := NewTokens(ctx, db)
	require.NoError(t, err)
	require.Equal(t, tk.KeyID(), tk2.KeyID(), "the signing key persists")
	require.NotEmpty(t, tk.KeyID())

	tok, exp, err := tk.Mint(u, time.Hour)
	require.NoError(t, err)
	id, err := tk2.Verify(ctx, tok)
	require.NoError(t, err)
	require.Equal(t, u.ID, id.UserID)
	require.Equal(t, u.AccountID, id.AccountID)
	require.Equal(t, exp, id.ExpiresAt.Local())

	old, _, err := tk.MintUntil(u, time.Now().Add(-time.Second))
	require.NoError(t, err)
	_, err = tk.Verify(ctx, old)
	require.ErrorIs(t, err, ErrTokenExpired)
	_, err = tk.Verify(ctx, tok+"x")
	require.ErrorIs(t, err, ErrInvalidToken)
	_, err = tk.Verify(ctx, "")
	require.ErrorIs(t, err, ErrInvalidToken)

	_, err = db.BumpTokenGeneration(ctx, u.ID)
	require.NoError(t, err)
	_, err = tk.Verify(ctx, tok)
	require.ErrorIs(t, err, ErrTokenRevoked)
	require.NoError(t, db.DeleteUser(ctx, u.ID))
	_, err = tk.Verify(ctx, tok)
	require.ErrorIs(t, err, ErrTokenRevoked)
}

func TestAdminKey(t *testing.T) {
	ctx := context.Background()
	db, _ := setup(t)
	k, fresh, err := LoadAdminKey(ctx, db, "", false)
	require.NoError(t, err)
	require.NotEmpty(t, fresh)
	require.True(t, k.Check(fresh))
	require.False(t, k.Check(fresh+"x"))

	k2, again, err := LoadAdminKey(ctx, db, "", false)
	require.NoError(t, err)
	require.Empty(t, again, "a stored key is not shown again")
	require.True(t, k2.Check(fresh))

	k3, rotated, err := LoadAdminKey(ctx, db, "", true)
	require.NoError(t, err)
	require.NotEqual(t, fresh, rotated)
	require.False(t, k3.Check(fresh))

	k4, none, err := LoadAdminKey(ctx, db, "from-env", false)
	require.NoError(t, err)
	require.Empty(t, none)
	require.True(t, k4.Check("from-env"))
	require.False(t, k4.Check(rotated))
}

func TestTURNCredentials(t *testing.T) {
	// Vector computed with: printf '1700000000:user_x' | openssl dgst -sha1 -hmac secret -binary | base64
	u, c := TURNCredentials("secret", "user_x", time.Unix(1700000000, 0))
	require.Equal(t, "1700000000:user_x", u)
	require.Equal(t, "rlpcIHaFJtgdVPaDXOf7GoBf1jc=", c)
}

func TestRotateSigningKey(t *testing.T) {
	ctx := context.Background()
	db, u := setup(t)
	clock := time.Now()
	tk, err := NewTokens(ctx, db)
	require.NoError(t, err)
	tk.now = func() time.Time { return clock }
	old, _, err := tk.Mint(u, 48*time.Hour)
	require.NoError(t, err)
	oldID := tk.KeyID()

	r, err := RotateSigningKey(ctx, db, 24*time.Hour, clock)
	require.NoError(t, err)
	require.Equal(t, oldID, r.PreviousID)
	require.NotEqual(t, oldID, r.KeyID)
	require.Equal(t, clock.Add(24*time.Hour), r.PreviousUntil)

	// A token with the new key's kid makes a server re-read the keys.
	other, err := NewTokens(ctx, db)
	require.NoError(t, err)
	require.Equal(t, r.KeyID, other.KeyID())
	fresh, _, err := other.Mint(u, time.Hour)
	require.NoError(t, err)
	clock = clock.Add(2 * time.Second)
	_, err = tk.Verify(ctx, fresh)
	require.NoError(t, err, "a running server learns the new key from a token that names it")
	require.Equal(t, r.KeyID, tk.KeyID(), "and signs with it")

	_, err = tk.Verify(ctx, old)
	require.NoError(t, err, "the old key verifies during the overlap")
	clock = clock.Add(24 * time.Hour)
	_, err = tk.Verify(ctx, old)
	require.ErrorIs(t, err, ErrInvalidToken, "and not after it")
	_, err = tk.Verify(ctx, fresh)
	require.ErrorIs(t, err, ErrTokenExpired)

	// Overlap 0 ends every earlier key at once (a leaked key).
	tok, _, err := tk.Mint(u, time.Hour)
	require.NoError(t, err)
	r2, err := RotateSigningKey(ctx, db, 0, clock)
	require.NoError(t, err)
	require.True(t, r2.PreviousUntil.IsZero())
	clock = clock.Add(KeyReload)
	_, err = tk.Verify(ctx, tok)
	require.ErrorIs(t, err, ErrInvalidToken)
	_, err = RotateSigningKey(ctx, db, -time.Second, clock)
	require.Error(t, err)
}

// TestLegacySigningKey: a key stored before rotation existed (one base64
// key, tokens without kid) keeps verifying, and rotates like any other.
func TestLegacySigningKey(t *testing.T) {
	ctx := context.Background()
	db, u := setup(t)
	require.NoError(t, db.SetSecret(ctx, settingJWTSecret, randomString(32)))
	tk, err := NewTokens(ctx, db)
	require.NoError(t, err)
	tok, _, err := tk.Mint(u, time.Hour)
	require.NoError(t, err)
	require.Empty(t, tk.KeyID())
	_, err = RotateSigningKey(ctx, db, time.Hour, time.Now())
	require.NoError(t, err)
	tk2, err := NewTokens(ctx, db)
	require.NoError(t, err)
	_, err = tk2.Verify(ctx, tok)
	require.NoError(t, err)
	require.NotEmpty(t, tk2.KeyID())
}
