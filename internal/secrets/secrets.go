// Package secrets keeps Switchboard's secrets at rest: values sealed with
// the master key (NaCl secretbox), the master key itself (from the
// environment or a key file outside the data directory), and SIP digest
// HA1s, which stand in for SIP passwords. See docs/adr/0004-secrets-at-rest.md.
package secrets

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/nacl/secretbox"
)

// KeySize is the size of a master key: secretbox's XSalsa20-Poly1305 key.
const KeySize = 32

// Key is a master key.
type Key [KeySize]byte

// sealedPrefix marks a sealed value, so plaintext from before sealing is
// told apart (and converted) and a future format can have another prefix.
const sealedPrefix = "sealed1:"

const nonceSize = 24

// Errors.
var (
	// ErrOpen: the value was sealed with another key, or altered.
	ErrOpen = errors.New("secrets: sealed value does not open with this master key (wrong key, or altered)")
	// ErrNotSealed: the value is not a sealed value.
	ErrNotSealed = errors.New("secrets: value is not sealed")
	// ErrWeakKey: a passphrase too short to be a master key.
	ErrWeakKey = errors.New("secrets: master key must be 32 bytes in base64 or a passphrase of at least 16 characters")
)

// Box seals and opens values with one master key. It is safe for
// concurrent use.
type Box struct {
	key Key
}

// NewBox returns a Box sealing with key.
func NewBox(key Key) *Box { return &Box{key: key} }

// NewEphemeralBox returns a Box with a random key that lives as long as it
// does: what it seals cannot be opened by another process. For tests and
// stores opened without a master key.
func NewEphemeralBox() *Box {
	var k Key
	mustRand(k[:])
	return NewBox(k)
}

// Seal returns plain sealed: the prefix, then base64url of a random nonce
// and the secretbox of plain. The empty string stays empty (nothing to hide,
// and "not set" stays visible).
func (b *Box) Seal(plain string) string {
	if plain == "" {
		return ""
	}
	var nonce [nonceSize]byte
	mustRand(nonce[:])
	out := secretbox.Seal(nonce[:], []byte(plain), &nonce, (*[KeySize]byte)(&b.key))
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(out)
}

// Open returns the plaintext of a value made by Seal ("" stays "").
func (b *Box) Open(sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	if !IsSealed(sealed) {
		return "", ErrNotSealed
	}
	raw, err := base64.RawURLEncoding.DecodeString(sealed[len(sealedPrefix):])
	if err != nil || len(raw) < nonceSize+secretbox.Overhead {
		return "", ErrOpen
	}
	var nonce [nonceSize]byte
	copy(nonce[:], raw)
	plain, ok := secretbox.Open(nil, raw[nonceSize:], &nonce, (*[KeySize]byte)(&b.key))
	if !ok {
		return "", ErrOpen
	}
	return string(plain), nil
}

// IsSealed reports whether s looks like a value made by Seal.
func IsSealed(s string) bool { return strings.HasPrefix(s, sealedPrefix) }

// passphraseSalt is fixed: a master key names one deployment's secrets and
// is never stored, so there is nothing to keep a per-key salt in. It is why
// a generated key is preferred to a passphrase.
const passphraseSalt = "switchboard master key v1"

// ParseKey turns a master key setting into a key: 32 bytes in base64
// (standard or URL alphabet, padded or not; what GenerateKey makes) are
// the key itself; anything else is a passphrase of at least 16 characters,
// stretched with Argon2id (RFC 9106's second recommended setting: t=3,
// 64 MiB) so a copied data directory does not make it cheap to guess.
func ParseKey(value string) (Key, error) {
	var k Key
	value = strings.TrimSpace(value)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err := enc.DecodeString(value); err == nil && len(raw) == KeySize {
			copy(k[:], raw)
			return k, nil
		}
	}
	if len([]rune(value)) < 16 {
		return k, ErrWeakKey
	}
	copy(k[:], argon2.IDKey([]byte(value), []byte(passphraseSalt), 3, 64*1024, 4, KeySize))
	return k, nil
}

// GenerateKey returns a fresh random master key in base64.
func GenerateKey() string {
	var k Key
	mustRand(k[:])
	return base64.StdEncoding.EncodeToString(k[:])
}

// HA1 is a user's SIP digest secret for one realm (RFC 7616 §3.4.2:
// H(username:realm:password)), in lowercase hex, for each algorithm.
// It authenticates as the password does in that realm, but the password
// cannot be read back from it, nor reused in another realm.
type HA1 struct {
	MD5    string
	SHA256 string
}

// IsZero reports whether h holds no hash (no password set).
func (h HA1) IsZero() bool { return h.MD5 == "" && h.SHA256 == "" }

// DigestHA1 returns username's HA1s for password in realm. An empty
// password gives the zero HA1: no password, nothing matches.
func DigestHA1(username, realm, password string) HA1 {
	if password == "" {
		return HA1{}
	}
	s := username + ":" + realm + ":" + password
	return HA1{MD5: hexHash(md5.New, s), SHA256: hexHash(sha256.New, s)}
}

func hexHash(h func() hash.Hash, s string) string {
	x := h()
	x.Write([]byte(s))
	return hex.EncodeToString(x.Sum(nil))
}

func mustRand(b []byte) {
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("secrets: crypto/rand failed: %v", err))
	}
}
