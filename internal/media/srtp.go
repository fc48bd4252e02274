package media

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
	"github.com/pion/srtp/v3"
)

// SDES-SRTP for SIP legs (RFC 4568 keys in SDP, RFC 3711 SRTP): each side
// announces the master key it encrypts with in an a=crypto line, so the
// keys are only as secret as the signalling (SIP over TLS).

// ErrSRTPRequired is returned for a description without a usable a=crypto
// on a leg that requires SRTP. It wraps ErrBadSDP.
var ErrSRTPRequired = fmt.Errorf("%w: SRTP required", ErrBadSDP)

// srtpReplayWindow is the replay window for inbound SRTP (RFC 3711 §3.3.2
// asks for at least 64).
const srtpReplayWindow = 128

// cryptoSuite is an SRTP crypto suite we support (RFC 4568 §6.2).
type cryptoSuite struct {
	name    string
	profile srtp.ProtectionProfile
}

// cryptoSuites are the suites we accept, in the order we offer them. Both
// use a 128-bit AES key and a 112-bit salt.
var cryptoSuites = []cryptoSuite{
	{"AES_CM_128_HMAC_SHA1_80", srtp.ProtectionProfileAes128CmHmacSha1_80},
	{"AES_CM_128_HMAC_SHA1_32", srtp.ProtectionProfileAes128CmHmacSha1_32},
}

const (
	srtpKeyLen  = 16
	srtpSaltLen = 14
	// maxLifetime is SRTP's own bound on packets per key (RFC 3711 §9.2).
	maxLifetime = 1 << 48
)

// cryptoAttr is one a=crypto line with a single inline key (RFC 4568 §9.1):
//
//	a=crypto:<tag> <suite> inline:<key||salt base64>[|<lifetime>][|<mki>:<length>] [WSH=<n>]
type cryptoAttr struct {
	tag      int
	suite    cryptoSuite
	keySalt  []byte // master key, then master salt
	lifetime uint64 // packets; 0 when not given
	mki      []byte // the MKI as sent in packets (big-endian, length bytes); nil for none
	wsh      int    // window size hint; 0 when not given
}

// parseCrypto parses the value of an a=crypto attribute (after "crypto:").
// It is strict: a line with an unknown suite, several keys, a key of the
// wrong length, bad base64, a lifetime or MKI out of range, or a session
// parameter other than WSH is an error, and the caller ignores it.
func parseCrypto(value string) (cryptoAttr, error) {
	var c cryptoAttr
	fields := strings.Split(strings.TrimRight(value, "\r\n"), " ")
	if len(fields) < 3 {
		return c, errors.New("crypto: want <tag> <suite> <key-params>")
	}
	tag, err := parseDigits(fields[0], 9)
	if err != nil {
		return c, fmt.Errorf("crypto: tag: %w", err)
	}
	c.tag = int(tag)
	found := false
	for _, s := range cryptoSuites {
		if fields[1] == s.name {
			c.suite, found = s, true
			break
		}
	}
	if !found {
		return c, fmt.Errorf("crypto: suite %.40q not supported", fields[1])
	}
	keyParams := fields[2]
	if strings.Contains(keyParams, ";") {
		return c, errors.New("crypto: several keys are not supported")
	}
	info, ok := strings.CutPrefix(keyParams, "inline:")
	if !ok {
		return c, errors.New("crypto: key method is not inline")
	}
	parts := strings.Split(info, "|")
	if len(parts) > 3 {
		return c, errors.New("crypto: too many key parameters")
	}
	want := srtpKeyLen + srtpSaltLen
	if len(parts[0]) != base64.StdEncoding.EncodedLen(want) {
		return c, fmt.Errorf("crypto: key is %d base64 characters, want %d", len(parts[0]), base64.StdEncoding.EncodedLen(want))
	}
	c.keySalt, err = base64.StdEncoding.Strict().DecodeString(parts[0])
	if err != nil || len(c.keySalt) != want {
		return c, errors.New("crypto: key is not valid base64 of a 30-byte key and salt")
	}
	for i, p := range parts[1:] {
		if mki, length, ok := strings.Cut(p, ":"); ok {
			if c.mki != nil || i != len(parts)-2 {
				return c, errors.New("crypto: MKI must come last, once")
			}
			if c.mki, err = parseMKI(mki, length); err != nil {
				return c, err
			}
			continue
		}
		if c.lifetime != 0 || i != 0 {
			return c, errors.New("crypto: lifetime must come first, once")
		}
		if c.lifetime, err = parseLifetime(p); err != nil {
			return c, err
		}
	}
	for _, p := range fields[3:] {
		v, ok := strings.CutPrefix(p, "WSH=")
		if !ok || c.wsh != 0 {
			// UNENCRYPTED_SRTP, KDR, FEC_ORDER and the like: not supported.
			return c, fmt.Errorf("crypto: session parameter %.40q not supported", p)
		}
		n, err := parseDigits(v, 9)
		if err != nil || n < 64 { // RFC 4568 §6.2.3: at least 64
			return c, fmt.Errorf("crypto: WSH %.40q", v)
		}
		c.wsh = int(n)
	}
	return c, nil
}

// parseDigits parses 1 to maxLen ASCII digits.
func parseDigits(s string, maxLen int) (uint64, error) {
	if s == "" || len(s) > maxLen {
		return 0, fmt.Errorf("%.40q is not 1 to %d digits", s, maxLen)
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("%.40q is not a number", s)
		}
	}
	return strconv.ParseUint(s, 10, 64)
}

// parseLifetime parses ["2^"]1*DIGIT, at most SRTP's 2^48 packets.
func parseLifetime(s string) (uint64, error) {
	if exp, ok := strings.CutPrefix(s, "2^"); ok {
		n, err := parseDigits(exp, 2)
		if err != nil || n > 48 {
			return 0, fmt.Errorf("crypto: lifetime %.40q", s)
		}
		return 1 << n, nil
	}
	n, err := parseDigits(s, 15)
	if err != nil || n == 0 || n > maxLifetime {
		return 0, fmt.Errorf("crypto: lifetime %.40q", s)
	}
	return n, nil
}

// parseMKI parses mki-value ":" mki-length (1..128 bytes) into the bytes
// packets carry.
func parseMKI(value, length string) ([]byte, error) {
	n, err := parseDigits(length, 3)
	if err != nil || n < 1 || n > 128 {
		return nil, fmt.Errorf("crypto: MKI length %.40q", length)
	}
	if len(value) > 1+int(n)*3 { // a bound on the digits of a value that fits
		return nil, fmt.Errorf("crypto: MKI value too long")
	}
	if _, err := parseDigits(value, len(value)); err != nil {
		return nil, fmt.Errorf("crypto: MKI value: %w", err)
	}
	v, _ := new(big.Int).SetString(value, 10)
	if v.BitLen() > int(n)*8 {
		return nil, fmt.Errorf("crypto: MKI value does not fit in %d bytes", n)
	}
	return v.FillBytes(make([]byte, n)), nil
}

// String writes the attribute value (after "crypto:").
func (c cryptoAttr) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s inline:%s", c.tag, c.suite.name, base64.StdEncoding.EncodeToString(c.keySalt))
	if c.lifetime != 0 {
		b.WriteString("|" + strconv.FormatUint(c.lifetime, 10))
	}
	if c.mki != nil {
		fmt.Fprintf(&b, "|%s:%d", new(big.Int).SetBytes(c.mki), len(c.mki))
	}
	if c.wsh != 0 {
		b.WriteString(" WSH=" + strconv.Itoa(c.wsh))
	}
	return b.String()
}

// sameKey reports whether c and o describe the same key (so an SRTP
// context made for one serves the other).
func (c cryptoAttr) sameKey(o cryptoAttr) bool {
	return c.suite == o.suite && bytes.Equal(c.keySalt, o.keySalt) && bytes.Equal(c.mki, o.mki)
}

// newCrypto makes a fresh key for tag and suite from crypto/rand.
func newCrypto(tag int, suite cryptoSuite) (cryptoAttr, error) {
	c := cryptoAttr{tag: tag, suite: suite, keySalt: make([]byte, srtpKeyLen+srtpSaltLen)}
	if _, err := rand.Read(c.keySalt); err != nil {
		return c, fmt.Errorf("media: srtp key: %w", err)
	}
	return c, nil
}

// usableCrypto lists the a=crypto lines of attrs that parse, in order;
// the others are ignored (RFC 4568 §7.1.2: the answerer picks one it
// supports).
func usableCrypto(attrs []sdp.Attribute) []cryptoAttr {
	var out []cryptoAttr
	for _, a := range attrs {
		if a.Key != "crypto" {
			continue
		}
		if c, err := parseCrypto(a.Value); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// srtpSession is a leg's SRTP: what we send is protected with local's
// key, what we receive with remote's.
type srtpSession struct {
	local, remote cryptoAttr
	enc, dec      *srtp.Context
}

// newSRTPSession makes the contexts for local and remote. Contexts of prev
// whose key is unchanged are kept, so that a re-INVITE that repeats the
// keys does not reset rollover counters or the replay window.
func newSRTPSession(local, remote cryptoAttr, prev *srtpSession) (*srtpSession, error) {
	s := &srtpSession{local: local, remote: remote}
	var err error
	if prev != nil && prev.local.sameKey(local) {
		s.enc = prev.enc
	} else if s.enc, err = newSRTPContext(local); err != nil {
		return nil, err
	}
	if prev != nil && prev.remote.sameKey(remote) {
		s.dec = prev.dec
	} else if s.dec, err = newSRTPContext(remote, srtp.SRTPReplayProtection(srtpReplayWindow),
		srtp.SRTCPReplayProtection(srtpReplayWindow)); err != nil {
		return nil, err
	}
	return s, nil
}

func newSRTPContext(c cryptoAttr, opts ...srtp.ContextOption) (*srtp.Context, error) {
	if c.mki != nil {
		opts = append(opts, srtp.MasterKeyIndicator(c.mki))
	}
	ctx, err := srtp.CreateContext(c.keySalt[:srtpKeyLen], c.keySalt[srtpKeyLen:], c.suite.profile, opts...)
	if err != nil {
		return nil, fmt.Errorf("media: srtp context: %w", err)
	}
	return ctx, nil
}

// answerCrypto picks the first offered line (already filtered to the
// suites we support) and makes our own key for it: same tag, same suite
// (RFC 4568 §7.1.3). A key we already send with under that suite is kept.
func answerCrypto(offered []cryptoAttr, prev *srtpSession) (local, remote cryptoAttr, err error) {
	remote = offered[0]
	if prev != nil && prev.local.suite == remote.suite {
		local = prev.local
		local.tag = remote.tag
		return local, remote, nil
	}
	local, err = newCrypto(remote.tag, remote.suite)
	return local, remote, err
}

// offerCrypto makes the a=crypto lines of our offer: one per suite, each
// with its own key, tags from 1. An active session's key is offered again
// first, so that a re-offer does not rekey.
func offerCrypto(prev *srtpSession) ([]cryptoAttr, error) {
	if prev != nil {
		l := prev.local
		l.tag = 1
		return []cryptoAttr{l}, nil
	}
	out := make([]cryptoAttr, 0, len(cryptoSuites))
	for i, s := range cryptoSuites {
		c, err := newCrypto(i+1, s)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// acceptedCrypto finds the answer's line for one of our offered lines:
// same tag and suite (RFC 4568 §7.1.4).
func acceptedCrypto(offered, answered []cryptoAttr) (local, remote cryptoAttr, ok bool) {
	for _, a := range answered {
		for _, o := range offered {
			if a.tag == o.tag && a.suite == o.suite {
				return o, a, true
			}
		}
	}
	return local, remote, false
}

// suiteNames lists the supported suites for error messages.
func suiteNames() string {
	names := make([]string, len(cryptoSuites))
	for i, s := range cryptoSuites {
		names[i] = s.name
	}
	return strings.Join(names, ", ")
}

func (s *srtpSession) suiteName() string {
	if s == nil {
		return "none"
	}
	return s.local.suite.name
}

// unprotectLocked returns the plain RTP packet of pkt: pkt itself for
// plain RTP, else decrypted into plain after its authentication tag is
// checked (ok false: drop it). While an SRTP offer awaits its answer,
// the remote's key is unknown and every packet is dropped.
func (e *RTPEndpoint) unprotectLocked(pkt, plain []byte) ([]byte, bool) {
	if e.srtp == nil {
		return pkt, !(e.offering && e.offered != nil)
	}
	out, err := e.srtp.dec.DecryptRTP(plain, pkt, nil)
	if err != nil {
		return nil, false
	}
	return out, true
}
