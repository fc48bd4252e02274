// Package auth owns Switchboard's credentials: user tokens (signed JWTs whose
// sub is the user id), the admin API key (stored as a hash), and time-limited
// TURN credentials. SIP digest credentials live with the SIP user agent.
package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// Errors returned by Verify.
var (
	ErrInvalidToken = errors.New("invalid token")
	ErrTokenExpired = errors.New("token expired")
	ErrTokenRevoked = errors.New("token revoked")
)

// Token lifetimes (protocol §6).
const (
	DefaultTokenTTL = 24 * time.Hour
	MaxTokenTTL     = 7 * 24 * time.Hour
)

// Settings keys.
const (
	settingJWTSecret = "jwt_secret"
	settingAdminKey  = "admin_key_sha256"
)

// Claims are a user token's claims. Clients read sub and exp unverified to
// schedule auth.refresh; the server verifies everything.
type Claims struct {
	jwt.RegisteredClaims
	AccountID  string `json:"acct"`
	Generation int64  `json:"gen"`
}

// Identity is a verified token's user.
type Identity struct {
	UserID    ident.UserID
	AccountID ident.AccountID
	ExpiresAt time.Time
}

// Tokens mints and verifies user tokens.
type Tokens struct {
	secret []byte
	users  store.Users
	now    func() time.Time
}

// NewTokens loads (or creates, once) the signing secret from settings.
func NewTokens(ctx context.Context, st interface {
	store.Settings
	store.Users
}) (*Tokens, error) {
	secret, err := st.SetSettingIfAbsent(ctx, settingJWTSecret, randomString(32))
	if err != nil {
		return nil, fmt.Errorf("auth: signing secret: %w", err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(secret)
	if err != nil {
		return nil, fmt.Errorf("auth: stored signing secret is corrupt: %w", err)
	}
	return &Tokens{secret: raw, users: st, now: time.Now}, nil
}

// Mint returns a token for u valid for ttl.
func (t *Tokens) Mint(u *store.User, ttl time.Duration) (string, time.Time, error) {
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	return t.MintUntil(u, t.now().Add(ttl))
}

// MintUntil returns a token for u that expires at exp (whole seconds, as JWT
// carries them).
func (t *Tokens) MintUntil(u *store.User, exp time.Time) (string, time.Time, error) {
	now := t.now()
	exp = exp.Truncate(time.Second)
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   string(u.ID),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
			ID:        ident.Short() + ident.Short(),
		},
		AccountID:  string(u.AccountID),
		Generation: u.TokenGeneration,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.secret)
	return s, exp, err
}

// Verify checks the signature, expiry and revocation of token.
func (t *Tokens) Verify(ctx context.Context, token string) (Identity, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(t.now))
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return Identity{}, ErrTokenExpired
	case err != nil:
		return Identity{}, ErrInvalidToken
	}
	u, err := t.users.GetUser(ctx, ident.UserID(c.Subject))
	if errors.Is(err, store.ErrNotFound) {
		return Identity{}, ErrTokenRevoked // the user was deleted
	} else if err != nil {
		return Identity{}, err
	}
	if u.TokenGeneration != c.Generation || string(u.AccountID) != c.AccountID {
		return Identity{}, ErrTokenRevoked
	}
	return Identity{UserID: u.ID, AccountID: u.AccountID, ExpiresAt: c.ExpiresAt.Time}, nil
}

// AdminKey checks the admin API key. Only its SHA-256 is kept: the key is
// 256 random bits, so a slow hash would add nothing.
type AdminKey struct {
	sum [32]byte
}

// LoadAdminKey uses fromEnv when set; otherwise the stored hash, generating
// (or, with rotate, replacing) a key when needed. fresh is the new key to
// print once, or "" when none was made.
func LoadAdminKey(ctx context.Context, st store.Settings, fromEnv string, rotate bool) (key *AdminKey, fresh string, err error) {
	if fromEnv != "" {
		return &AdminKey{sum: sha256.Sum256([]byte(fromEnv))}, "", nil
	}
	stored, err := st.GetSetting(ctx, settingAdminKey)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, "", err
	}
	if err == nil && !rotate {
		sum, err := hex.DecodeString(stored)
		if err != nil || len(sum) != 32 {
			return nil, "", errors.New("auth: stored admin key hash is corrupt")
		}
		k := &AdminKey{}
		copy(k.sum[:], sum)
		return k, "", nil
	}
	fresh = "sbk_" + randomString(32)
	sum := sha256.Sum256([]byte(fresh))
	if err := st.SetSetting(ctx, settingAdminKey, hex.EncodeToString(sum[:])); err != nil {
		return nil, "", err
	}
	return &AdminKey{sum: sum}, fresh, nil
}

// Check reports whether presented is the admin key, in constant time.
func (k *AdminKey) Check(presented string) bool {
	sum := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(sum[:], k.sum[:]) == 1
}

// TURNCredentials returns TURN REST API credentials (the scheme coturn calls
// use-auth-secret): username "<expiry unix>:<user>", credential
// base64(HMAC-SHA1(secret, username)).
func TURNCredentials(secret string, user ident.UserID, expires time.Time) (username, credential string) {
	username = strconv.FormatInt(expires.Unix(), 10) + ":" + string(user)
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username))
	return username, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("auth: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
