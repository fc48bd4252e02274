// Package webhook delivers an account's events to its webhook endpoints:
// signing (Standard Webhooks, with a rotated secret's grace period), the
// SSRF guard on targets, the worker that drains the store's durable
// outbox with retries and backoff and prunes it, and the emitter that
// writes registration and presence events off their callers' goroutines.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// SecretPrefix starts every signing secret.
const SecretPrefix = "whsec_"

// NewSecret returns a fresh signing secret: whsec_ and 32 random bytes in
// base64.
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails: since Go 1.24 crypto/rand crashes the program instead
	return SecretPrefix + base64.StdEncoding.EncodeToString(b[:])
}

// ErrBadSecret is a secret that is not whsec_<base64>.
var ErrBadSecret = errors.New("webhook secret is not whsec_<base64>")

// secretKey returns the bytes a secret signs with.
func secretKey(secret string) ([]byte, error) {
	s, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, ErrBadSecret
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, ErrBadSecret
	}
	return b, nil
}

// Sign returns the webhook-signature header value of body sent as message
// id at unix time ts: "v1," and the base64 HMAC-SHA256 of "{id}.{ts}.{body}".
func Sign(secret, id string, ts int64, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// Verify reports whether header (space-separated signatures, as Standard
// Webhooks allows) holds a valid v1 signature of body.
func Verify(secret, id string, ts int64, body []byte, header string) bool {
	want, err := Sign(secret, id, ts, body)
	if err != nil {
		return false
	}
	for _, sig := range strings.Fields(header) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}
