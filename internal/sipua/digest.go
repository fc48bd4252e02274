package sipua

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/icholy/digest"

	"github.com/switchboard-voice/switchboard/internal/secrets"
)

// nonceTTL bounds how long a challenge's nonce is accepted.
const nonceTTL = 5 * time.Minute

// Digest authenticates SIP requests (RFC 8760 / RFC 7616 digest, MD5 and
// SHA-256). A nonce is its issue time and an HMAC of that time, the realm
// and the address it was issued to, so nothing is stored for a challenge
// and a nonce is good only from the source that asked for it. Once a
// nonce has authenticated a request, its nonce-count must grow with every
// use (RFC 7616 §3.4): a captured Authorization cannot be replayed, from
// anywhere.
type Digest struct {
	realm   string
	algs    []string
	md5Only []string // User-Agent substrings offered MD5 alone
	secret  []byte
	dummy   secrets.HA1 // stands in for an unknown user's
	now     func() time.Time

	mu    sync.Mutex
	ncs   map[string]int // last nonce-count accepted, by nonce (nonces expire, so do entries)
	floor int64          // nonces issued before this Unix second are stale (see forgetExpiredLocked)
}

// maxNonceCounts bounds the nonce-count table. Entries are made only by
// requests with valid credentials, so only real phones fill it.
const maxNonceCounts = 100000

// NewDigest returns a digest authenticator for realm offering algs (MD5,
// SHA-256) in that order; user agents matching md5Only get MD5 alone.
func NewDigest(realm string, algs, md5Only []string, secret []byte) *Digest {
	return &Digest{realm: realm, algs: algs, md5Only: md5Only, secret: secret, now: time.Now, ncs: map[string]int{},
		dummy: secrets.DigestHA1("", realm, base64.RawURLEncoding.EncodeToString(secret))}
}

// Challenges returns the WWW-Authenticate (or Proxy-Authenticate) values
// for a request from userAgent at source (its IP address), one per
// algorithm in the configured order. stale marks a retry with a fresh
// nonce (RFC 7616 §3.3).
func (d *Digest) Challenges(stale bool, userAgent, source string) []string {
	nonce := d.nonce(source)
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

// nonce is its issue time, 8 random bytes (two challenges in the same
// second differ), and an HMAC of both with the realm and the source.
func (d *Digest) nonce(source string) string {
	var b [nonceLen]byte
	binary.BigEndian.PutUint64(b[:8], uint64(d.now().Unix()))
	_, _ = rand.Read(b[8:16])
	copy(b[16:], d.mac(b[:16], source))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

const nonceLen = 8 + 8 + 16

func (d *Digest) mac(tsRand []byte, source string) []byte {
	m := hmac.New(sha256.New, d.secret)
	m.Write(tsRand)
	m.Write([]byte(d.realm))
	m.Write([]byte{0})
	m.Write([]byte(source))
	return m.Sum(nil)[:16]
}

// Auth errors.
var (
	ErrNoCredentials = errors.New("sip: no digest credentials")
	ErrStaleNonce    = errors.New("sip: stale nonce")
	ErrForeignNonce  = errors.New("sip: nonce not issued to this source by this server")
	ErrReplay        = errors.New("sip: nonce-count not above the last one used")
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

// Verify checks creds for a request with method from source (its IP
// address), against the user's stored HA1s (the algorithm in creds picks
// which). A zero HA1 (unknown user, no password) is checked against a
// dummy one, so it fails as a wrong password does and in the same time. A
// nonce from elsewhere is ErrForeignNonce, an expired one ErrStaleNonce, a
// nonce-count that does not grow ErrReplay: each deserves a fresh
// challenge, stale=true only for the expired one.
func (d *Digest) Verify(creds *digest.Credentials, method string, stored secrets.HA1, source string) error {
	if err := d.checkNonce(creds.Nonce, source); err != nil {
		return err
	}
	alg := strings.ToUpper(creds.Algorithm)
	if alg == "" {
		alg = "MD5" // RFC 7616 §3.3: absent means MD5
	}
	if !slices.Contains(d.algs, alg) {
		return ErrBadCredential
	}
	h, ha1 := md5.New, stored.MD5
	if alg == "SHA-256" {
		h, ha1 = sha256.New, stored.SHA256
	}
	if creds.Realm != d.realm || creds.Username == "" {
		return ErrBadCredential
	}
	known := len(ha1) == 2*h().Size()
	if !known {
		ha1 = d.dummy.MD5 // made from the nonce secret: no client can answer it
		if alg == "SHA-256" {
			ha1 = d.dummy.SHA256
		}
	}
	ha2 := hexHash(h, method+":"+creds.URI)
	var want string
	if creds.QOP == "" {
		want = hexHash(h, ha1+":"+creds.Nonce+":"+ha2)
	} else {
		nc := formatNC(creds.Nc)
		want = hexHash(h, ha1+":"+creds.Nonce+":"+nc+":"+creds.Cnonce+":"+creds.QOP+":"+ha2)
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(creds.Response))) != 1 || !known {
		return ErrBadCredential
	}
	return d.useCount(creds)
}

// checkNonce accepts a nonce we issued to source that has not expired.
func (d *Digest) checkNonce(nonce, source string) error {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != nonceLen {
		return ErrForeignNonce
	}
	if !hmac.Equal(b[16:], d.mac(b[:16], source)) {
		return ErrForeignNonce
	}
	ts := int64(binary.BigEndian.Uint64(b[:8]))
	d.mu.Lock()
	floor := d.floor
	d.mu.Unlock()
	if age := d.now().Sub(time.Unix(ts, 0)); age < -time.Minute || age > nonceTTL || ts < floor {
		return ErrStaleNonce
	}
	return nil
}

// useCount records a nonce's count (RFC 7616 §3.4: each use must carry a
// higher nc). Without qop there is no count: such a nonce is good once.
func (d *Digest) useCount(creds *digest.Credentials) error {
	nc := 0
	if creds.QOP != "" {
		nc = creds.Nc
		if nc < 1 {
			return ErrReplay
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if last, seen := d.ncs[creds.Nonce]; seen && (nc <= last || creds.QOP == "") {
		return ErrReplay
	}
	if len(d.ncs) >= maxNonceCounts {
		d.forgetExpiredLocked()
	}
	d.ncs[creds.Nonce] = nc
	return nil
}

func (d *Digest) forgetExpiredLocked() {
	for nonce := range d.ncs {
		b, _ := base64.RawURLEncoding.DecodeString(nonce)
		if len(b) != nonceLen || d.now().Sub(time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)) > nonceTTL {
			delete(d.ncs, nonce)
		}
	}
	if len(d.ncs) >= maxNonceCounts {
		// All live: forget them all, and make every nonce issued so far
		// stale, so none of them can be replayed; phones are challenged
		// afresh (stale=true) and carry on.
		clear(d.ncs)
		d.floor = d.now().Unix() + 1
	}
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
