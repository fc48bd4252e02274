package sipua

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"
	"slices"
	"strings"
	"time"

	"github.com/icholy/digest"
)

// nonceTTL bounds how long a challenge's nonce is accepted.
const nonceTTL = 5 * time.Minute

// Digest authenticates SIP requests (RFC 8760 / RFC 7616 digest, MD5 and
// SHA-256) without server state: a nonce is its issue time and an HMAC of
// it, so any node with the secret can check it and nothing is stored.
type Digest struct {
	realm   string
	algs    []string
	md5Only []string // User-Agent substrings offered MD5 alone
	secret  []byte
	now     func() time.Time
}

// NewDigest returns a digest authenticator for realm offering algs (MD5,
// SHA-256) in that order; user agents matching md5Only get MD5 alone.
func NewDigest(realm string, algs, md5Only []string, secret []byte) *Digest {
	return &Digest{realm: realm, algs: algs, md5Only: md5Only, secret: secret, now: time.Now}
}

// Challenges returns the WWW-Authenticate (or Proxy-Authenticate) values
// for a request from userAgent, one per algorithm in the configured order.
// stale marks a retry with a fresh nonce (RFC 7616 §3.3).
func (d *Digest) Challenges(stale bool, userAgent string) []string {
	nonce := d.nonce()
	algs := d.algs
	for _, q := range d.md5Only {
		if q != "" && strings.Contains(strings.ToLower(userAgent), strings.ToLower(q)) && slices.Contains(algs, "MD5") {
			algs = []string{"MD5"} // libre aborts on any non-MD5 challenge (docs/adr/0001)
		}
	}
	out := make([]string, 0, len(algs))
	for _, alg := range algs {
		c := digest.Challenge{Realm: d.realm, Nonce: nonce, Algorithm: alg, QOP: []string{"auth"}, Stale: stale}
		out = append(out, c.String())
	}
	return out
}

func (d *Digest) nonce() string {
	var b [8 + 16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(d.now().Unix()))
	copy(b[8:], d.mac(b[:8]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (d *Digest) mac(ts []byte) []byte {
	m := hmac.New(sha256.New, d.secret)
	m.Write(ts)
	m.Write([]byte(d.realm))
	return m.Sum(nil)[:16]
}

// Auth errors.
var (
	ErrNoCredentials = errors.New("sip: no digest credentials")
	ErrStaleNonce    = errors.New("sip: stale or foreign nonce")
	ErrBadCredential = errors.New("sip: credentials do not match")
)

// Credentials parses a Digest Authorization header value.
func Credentials(header string) (*digest.Credentials, error) {
	if header == "" || !digest.IsDigest(header) {
		return nil, ErrNoCredentials
	}
	c, err := digest.ParseCredentials(header)
	if err != nil {
		return nil, ErrNoCredentials
	}
	return c, nil
}

// Verify checks creds for a request with method, against password. A
// password of "" (unknown user) is checked like any other, so both fail
// the same way and in the same time.
func (d *Digest) Verify(creds *digest.Credentials, method, password string) error {
	if !d.validNonce(creds.Nonce) {
		return ErrStaleNonce
	}
	alg := strings.ToUpper(creds.Algorithm)
	if alg == "" {
		alg = "MD5" // RFC 7616 §3.3: absent means MD5
	}
	if !slices.Contains(d.algs, alg) {
		return ErrBadCredential
	}
	h := md5.New
	if alg == "SHA-256" {
		h = sha256.New
	}
	if creds.Realm != d.realm || creds.Username == "" {
		return ErrBadCredential
	}
	ha1 := hexHash(h, creds.Username+":"+d.realm+":"+password)
	ha2 := hexHash(h, method+":"+creds.URI)
	var want string
	if creds.QOP == "" {
		want = hexHash(h, ha1+":"+creds.Nonce+":"+ha2)
	} else {
		nc := formatNC(creds.Nc)
		want = hexHash(h, ha1+":"+creds.Nonce+":"+nc+":"+creds.Cnonce+":"+creds.QOP+":"+ha2)
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(creds.Response))) != 1 || password == "" {
		return ErrBadCredential
	}
	return nil
}

func (d *Digest) validNonce(nonce string) bool {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != 24 {
		return false
	}
	if !hmac.Equal(b[8:], d.mac(b[:8])) {
		return false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)
	age := d.now().Sub(issued)
	return age >= -time.Minute && age <= nonceTTL
}

func hexHash(h func() hash.Hash, s string) string {
	x := h()
	x.Write([]byte(s))
	return hex.EncodeToString(x.Sum(nil))
}

func formatNC(n int) string {
	const digits = "0123456789abcdef"
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = digits[n&0xf]
		n >>= 4
	}
	return string(b[:])
}
