// Package auth owns Switchboard's credentials: user tokens (signed JWTs whose
// sub is the user id; the signing keys are stored sealed and rotate with
// an overlap), the admin API key (stored as a hash), and time-limited TURN
// credentials. SIP digest credentials live with the SIP user agent.
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
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
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
	// settingJWTSecret holds the signing keys, sealed with the master key:
	// a keySet in JSON, or (from before rotation) one base64url key.
	settingJWTSecret = "jwt_secret"
	settingAdminKey  = "admin_key_sha256"
)

// KeyReload is how often a server re-reads the signing keys, so a
// rotation made by `switchboard keys rotate` reaches a running server.
const KeyReload = 30 * time.Second

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
	// Role is the user's role when the token was checked: an admin's
	// token may use the admin API for its own account.
	Role      store.Role
	ExpiresAt time.Time
}

// signingKey is one HS256 key; tokens name it in their kid header.
type signingKey struct {
	ID  string `json:"id"`
	Key []byte `json:"key"`
	// Until ends a previous key: tokens it signed are refused after it.
	Until time.Time `json:"until,omitzero"`
}

// keySet is the current signing key and the previous ones still in their
// overlap window.
type keySet struct {
	Current  signingKey   `json:"current"`
	Previous []signingKey `json:"previous,omitempty"`
}

func newKey() signingKey {
	return signingKey{ID: "k" + ident.Short(), Key: randomBytes(32)}
}

// parseKeySet reads a stored keySet; a lone base64 key is the one from
// before rotation existed (tokens it signed carry no kid).
func parseKeySet(v string) (keySet, error) {
	var ks keySet
	if strings.HasPrefix(v, "{") {
		if err := json.Unmarshal([]byte(v), &ks); err != nil || len(ks.Current.Key) == 0 {
			return ks, errors.New("auth: stored signing keys are corrupt")
		}
		return ks, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(raw) == 0 {
		return ks, fmt.Errorf("auth: stored signing secret is corrupt: %w", err)
	}
	return keySet{Current: signingKey{Key: raw}}, nil
}

func (ks keySet) encode() string {
	b, _ := json.Marshal(ks)
	return string(b)
}

// verifying returns the keys that verify at now: the current one and the
// previous ones whose overlap has not ended.
func (ks keySet) verifying(now time.Time) []signingKey {
	out := []signingKey{ks.Current}
	for _, k := range ks.Previous {
		if now.Before(k.Until) {
			out = append(out, k)
		}
	}
	return out
}

// Tokens mints and verifies user tokens.
type Tokens struct {
	st    store.Settings
	users store.Users
	now   func() time.Time

	mu     sync.Mutex
	keys   keySet
	loaded time.Time
}

// NewTokens loads (or creates, once) the signing keys from settings.
func NewTokens(ctx context.Context, st interface {
	store.Settings
	store.Users
}) (*Tokens, error) {
	t := &Tokens{st: st, users: st, now: time.Now}
	v, err := st.SetSecretIfAbsent(ctx, settingJWTSecret, keySet{Current: newKey()}.encode())
	if err != nil {
		return nil, fmt.Errorf("auth: signing keys: %w", err)
	}
	if t.keys, err = parseKeySet(v); err != nil {
		return nil, err
	}
	t.loaded = t.now()
	return t, nil
}

// keySet returns the signing keys, re-read from the store when they are
// older than KeyReload or force is set.
func (t *Tokens) keySet(force bool) keySet {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	// Forced reloads (a kid not seen yet) are at most one a second: bogus
	// kids must not turn every request into a store read.
	if since := now.Sub(t.loaded); since >= KeyReload || (force && since >= time.Second) {
		t.loaded = now // a failed read is retried at the next reload, not at every token
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if v, err := t.st.GetSecret(ctx, settingJWTSecret); err == nil {
			if ks, err := parseKeySet(v); err == nil {
				t.keys = ks
			}
		}
	}
	return t.keys
}

// KeyID is the id of the key new tokens are signed with.
func (t *Tokens) KeyID() string { return t.keySet(false).Current.ID }

// Mint returns a token for u valid for ttl.
func (t *Tokens) Mint(u *store.User, ttl time.Duration) (string, time.Time, error) {
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	return t.MintUntil(u, t.now().Add(ttl))
}

// MintUntil returns a token for u that expires at exp (whole seconds, as JWT
// carries them), signed with the current key.
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
	key := t.keySet(false).Current
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	if key.ID != "" {
		tok.Header["kid"] = key.ID
	}
	s, err := tok.SignedString(key.Key)
	return s, exp, err
}

// verificationKey finds the key a token names (its kid; all keys for a
// token from before kids), re-reading the keys once for a kid not seen
// yet (another process rotated them).
func (t *Tokens) verificationKey(tok *jwt.Token) (any, error) {
	kid, _ := tok.Header["kid"].(string)
	for _, force := range []bool{false, true} {
		var set jwt.VerificationKeySet
		for _, k := range t.keySet(force).verifying(t.now()) {
			if kid == "" || k.ID == kid {
				set.Keys = append(set.Keys, k.Key)
			}
		}
		if len(set.Keys) > 0 {
			return set, nil
		}
		if kid == "" {
			break
		}
	}
	return nil, ErrInvalidToken
}

// Verify checks the signature, expiry and revocation of token.
func (t *Tokens) Verify(ctx context.Context, token string) (Identity, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, t.verificationKey,
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
	return Identity{UserID: u.ID, AccountID: u.AccountID, Role: u.Role, ExpiresAt: c.ExpiresAt.Time}, nil
}

// Rotation is what RotateSigningKey did.
type Rotation struct {
	// KeyID is the new current key's; PreviousID the key it replaced,
	// which verifies until PreviousUntil (zero: it no longer does).
	KeyID, PreviousID string
	PreviousUntil     time.Time
}

// RotateSigningKey makes a new signing key current. Tokens signed with
// the keys before it stay valid until now+overlap at most (0 ends them at
// once: for a leaked key); keys past their end are dropped. Running
// servers sign with the new key within KeyReload.
func RotateSigningKey(ctx context.Context, st store.Settings, overlap time.Duration, now time.Time) (Rotation, error) {
	if overlap < 0 {
		return Rotation{}, errors.New("auth: overlap must not be negative")
	}
	v, err := st.SetSecretIfAbsent(ctx, settingJWTSecret, keySet{Current: newKey()}.encode())
	if err != nil {
		return Rotation{}, fmt.Errorf("auth: signing keys: %w", err)
	}
	old, err := parseKeySet(v)
	if err != nil {
		return Rotation{}, err
	}
	end := now.Add(overlap)
	next := keySet{Current: newKey()}
	prev := old.Current
	prev.Until = end
	for _, k := range append([]signingKey{prev}, old.Previous...) {
		if k.Until.After(end) {
			k.Until = end
		}
		if now.Before(k.Until) {
			next.Previous = append(next.Previous, k)
		}
	}
	if err := st.SetSecret(ctx, settingJWTSecret, next.encode()); err != nil {
		return Rotation{}, err
	}
	r := Rotation{KeyID: next.Current.ID, PreviousID: old.Current.ID}
	if overlap > 0 {
		r.PreviousUntil = end
	}
	return r, nil
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
	return base64.RawURLEncoding.EncodeToString(randomBytes(n))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("auth: crypto/rand failed: " + err.Error())
	}
	return b
}
