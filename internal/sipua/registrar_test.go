package sipua

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/leakcheck"
	"github.com/switchboard-voice/switchboard/internal/secrets"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/internal/store/sqlite"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

type fixture struct {
	ua     *UA
	client *sipgo.Client
	cua    *sipgo.UserAgent
	host   string
	port   int
	alice  *store.User
	// agent, when set, is sent as REGISTER's User-Agent.
	agent string
}

func start(t *testing.T, mutate func(*config.Config)) *fixture {
	t.Helper()
	return startWith(t, mutate, nil)
}

// startWith is start with a hook that adjusts the user agent before it
// listens.
func startWith(t *testing.T, mutate func(*config.Config), before func(*UA)) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	acct := store.Account{Name: "A"}
	require.NoError(t, db.CreateAccount(ctx, &acct))
	alice := &store.User{AccountID: acct.ID, Name: "Alice", Extension: "101", SIPUsername: "101", SIPPassword: "alice-secret"}
	require.NoError(t, db.CreateUser(ctx, alice))
	bob := &store.User{AccountID: acct.ID, Name: "Bob", Extension: "102", SIPUsername: "102", SIPPassword: "bob-secret"}
	require.NoError(t, db.CreateUser(ctx, bob))

	cfg := config.Default()
	cfg.SIPListen = "127.0.0.1:0"
	if mutate != nil {
		mutate(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ua, err := New(ctx, cfg, db, log)
	require.NoError(t, err)
	if before != nil {
		before(ua)
	}
	require.NoError(t, ua.Start())
	t.Cleanup(func() { ua.Close() })

	cua, err := sipgo.NewUA(sipgo.WithUserAgent("test-phone"))
	require.NoError(t, err)
	client, err := sipgo.NewClient(cua, sipgo.WithClientHostname("127.0.0.1"))
	require.NoError(t, err)
	t.Cleanup(func() { client.Close(); cua.Close() })
	host, p, _ := net.SplitHostPort(ua.Addr())
	port, _ := strconv.Atoi(p)
	return &fixture{ua: ua, client: client, cua: cua, host: host, port: port, alice: alice}
}

// register sends a REGISTER for user from contact with the given extra
// headers and an Authorization made from the challenge (when alg is set).
func (f *fixture) register(t *testing.T, user, contact string, expires int, chal *digest.Challenge, password string) *sip.Response {
	t.Helper()
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: f.host, Port: f.port})
	req.SetTransport("UDP")
	aor := "<sip:" + user + "@" + f.host + ">"
	req.AppendHeader(sip.NewHeader("To", aor))
	req.AppendHeader(sip.NewHeader("From", aor+";tag=t1"))
	if contact != "" {
		req.AppendHeader(sip.NewHeader("Contact", contact))
	}
	if expires >= 0 {
		req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	}
	if f.agent != "" {
		req.AppendHeader(sip.NewHeader("User-Agent", f.agent))
	}
	if chal != nil {
		creds, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: req.Recipient.String(),
			Username: user, Password: password, Count: 1})
		require.NoError(t, err)
		req.AppendHeader(sip.NewHeader("Authorization", creds.String()))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := f.client.Do(ctx, req)
	require.NoError(t, err)
	return res
}

// challenge gets a fresh challenge for alg.
func (f *fixture) challenge(t *testing.T, alg string) *digest.Challenge {
	t.Helper()
	res := f.register(t, "101", "<sip:101@127.0.0.1:5999>", 60, nil, "")
	require.Equal(t, 401, res.StatusCode)
	for _, h := range res.GetHeaders("WWW-Authenticate") {
		c, err := digest.ParseChallenge(h.Value())
		require.NoError(t, err)
		if c.Algorithm == alg {
			return c
		}
	}
	t.Fatalf("no %s challenge", alg)
	return nil
}

func TestRegisterChallengeAndBindings(t *testing.T) {
	f := start(t, nil)
	res := f.register(t, "101", "<sip:101@127.0.0.1:5999>", 60, nil, "")
	require.Equal(t, 401, res.StatusCode)
	algs := []string{}
	for _, h := range res.GetHeaders("WWW-Authenticate") {
		c, err := digest.ParseChallenge(h.Value())
		require.NoError(t, err)
		require.Equal(t, "switchboard", c.Realm)
		algs = append(algs, c.Algorithm)
	}
	require.Equal(t, []string{"MD5", "SHA-256"}, algs, "MD5 leads by default: old phones take the first")

	for i, alg := range []string{"SHA-256", "MD5"} {
		contact := "<sip:101@127.0.0.1:" + strconv.Itoa(6000+i) + ">"
		res = f.register(t, "101", contact, 120, f.challenge(t, alg), "alice-secret")
		require.Equal(t, 200, res.StatusCode, alg)
	}
	cs := f.ua.Registrar.Contacts(f.alice.ID)
	require.Len(t, cs, 2, "several contacts per user")
	require.Contains(t, res.GetHeaders("Contact")[0].Value(), "expires=")

	// Refresh keeps one binding per URI; expires 0 removes it.
	res = f.register(t, "101", "<sip:101@127.0.0.1:6000>", 300, f.challenge(t, "MD5"), "alice-secret")
	require.Equal(t, 200, res.StatusCode)
	require.Len(t, f.ua.Registrar.Contacts(f.alice.ID), 2)
	res = f.register(t, "101", "<sip:101@127.0.0.1:6000>", 0, f.challenge(t, "MD5"), "alice-secret")
	require.Equal(t, 200, res.StatusCode)
	require.Len(t, f.ua.Registrar.Contacts(f.alice.ID), 1)
	// "*" with Expires 0 removes every binding.
	res = f.register(t, "101", "*", 0, f.challenge(t, "MD5"), "alice-secret")
	require.Equal(t, 200, res.StatusCode)
	require.Empty(t, f.ua.Registrar.Contacts(f.alice.ID))

	// Too short an interval.
	res = f.register(t, "101", "<sip:101@127.0.0.1:6000>", 5, f.challenge(t, "MD5"), "alice-secret")
	require.Equal(t, 423, res.StatusCode)
	require.Equal(t, "60", res.GetHeader("Min-Expires").Value())
	// Over the maximum is clamped.
	f.agent = "Yealink SIP-T46U 108.86.0.45"
	res = f.register(t, "101", "<sip:101@127.0.0.1:6000>", 99999, f.challenge(t, "MD5"), "alice-secret")
	require.Equal(t, 200, res.StatusCode)
	c := f.ua.Registrar.Contacts(f.alice.ID)[0]
	require.WithinDuration(t, time.Now().Add(time.Hour), c.Expires, 5*time.Second)
	require.Equal(t, "udp", c.Transport)
	require.Equal(t, "Yealink SIP-T46U 108.86.0.45", c.UserAgent, "the REGISTER's User-Agent is kept")
}

func TestRegisterRefusals(t *testing.T) {
	f := start(t, func(c *config.Config) { c.SIP.BanAfter = 3 })
	wrong := f.register(t, "101", "<sip:101@127.0.0.1:6000>", 60, f.challenge(t, "MD5"), "nope")
	unknown := f.register(t, "999", "<sip:999@127.0.0.1:6000>", 60, f.challenge(t, "MD5"), "nope")
	require.Equal(t, 403, wrong.StatusCode)
	require.Equal(t, wrong.StatusCode, unknown.StatusCode, "unknown users look like wrong passwords")
	require.Equal(t, wrong.Reason, unknown.Reason)

	// A user's credentials cannot register someone else's address.
	ch := f.challenge(t, "MD5")
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: f.host, Port: f.port})
	req.AppendHeader(sip.NewHeader("To", "<sip:102@127.0.0.1>"))
	req.AppendHeader(sip.NewHeader("From", "<sip:102@127.0.0.1>;tag=x"))
	req.AppendHeader(sip.NewHeader("Contact", "<sip:102@127.0.0.1:6001>"))
	creds, err := digest.Digest(ch, digest.Options{Method: "REGISTER", URI: req.Recipient.String(),
		Username: "101", Password: "alice-secret", Count: 1})
	require.NoError(t, err)
	req.AppendHeader(sip.NewHeader("Authorization", creds.String()))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := f.client.Do(ctx, req)
	require.NoError(t, err)
	require.Equal(t, 403, res.StatusCode)

	// (Those credentials were right: 101's failures start again.) The
	// third failure as 101 bans this address for 101 alone: even the
	// right password is refused, while 102 at the same address (another
	// phone behind the same NAT) still registers.
	for range 3 {
		f.register(t, "101", "<sip:101@127.0.0.1:6000>", 60, f.challenge(t, "MD5"), "nope")
	}
	res = f.register(t, "101", "<sip:101@127.0.0.1:6000>", 60, f.challenge(t, "MD5"), "alice-secret")
	require.Equal(t, 403, res.StatusCode, "banned for 101")
	require.Empty(t, f.ua.Registrar.Contacts(f.alice.ID))
	res = f.register(t, "102", "<sip:102@127.0.0.1:6002>", 60, f.challenge(t, "MD5"), "bob-secret")
	require.Equal(t, 200, res.StatusCode, "102 is not banned")
}

func TestOptions(t *testing.T) {
	f := start(t, nil)
	req := sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", Host: f.host, Port: f.port})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := f.client.Do(ctx, req)
	require.NoError(t, err)
	require.Equal(t, 200, res.StatusCode)
	require.True(t, strings.Contains(res.GetHeader("Allow").Value(), "REGISTER"))
}

func TestDigestNonces(t *testing.T) {
	pHA1 := secrets.DigestHA1("u", "r", "p") // what the store keeps for password "p"
	const src = "127.0.0.1"
	d := NewDigest("r", []string{"SHA-256", "MD5"}, []string{"baresip"}, []byte("secret"))
	require.Len(t, d.Challenges(false, "baresip v1.0.0 (x86_64/linux)", src), 1, "MD5 alone for a phone that fails on SHA-256")
	require.Contains(t, d.Challenges(false, "Baresip", src)[0], "MD5")
	require.Len(t, d.Challenges(false, "Yealink SIP-T46U", src), 2)
	creds := func(chal string, method string, nc int) *digest.Credentials {
		ch, err := digest.ParseChallenge(chal)
		require.NoError(t, err)
		c, err := digest.Digest(ch, digest.Options{Method: method, URI: "sip:h", Username: "u", Password: "p", Count: nc})
		require.NoError(t, err)
		return c
	}
	md5 := d.Challenges(false, "", src)[1]
	require.ErrorIs(t, d.Verify(creds(md5, "INVITE", 1), "REGISTER", pHA1, src), ErrBadCredential, "the method is part of the digest")
	require.ErrorIs(t, d.Verify(creds(md5, "REGISTER", 1), "REGISTER", secrets.HA1{}, src), ErrBadCredential)
	require.ErrorIs(t, d.Verify(creds(md5, "REGISTER", 1), "REGISTER", pHA1, "127.0.0.9"), ErrForeignNonce,
		"a nonce is good only from the address it was issued to")
	require.NoError(t, d.Verify(creds(md5, "REGISTER", 1), "REGISTER", pHA1, src))
	require.ErrorIs(t, d.Verify(creds(md5, "REGISTER", 1), "REGISTER", pHA1, src), ErrReplay, "the same nonce-count twice")
	require.NoError(t, d.Verify(creds(md5, "REGISTER", 3), "REGISTER", pHA1, src), "counts may skip")
	require.ErrorIs(t, d.Verify(creds(md5, "REGISTER", 2), "REGISTER", pHA1, src), ErrReplay, "but never go back")

	// Another server's nonce is foreign; an old one is stale.
	fresh := creds(d.Challenges(false, "", src)[1], "REGISTER", 1)
	other := NewDigest("r", []string{"MD5"}, nil, []byte("other"))
	require.ErrorIs(t, other.Verify(fresh, "REGISTER", pHA1, src), ErrForeignNonce)
	d.now = func() time.Time { return time.Now().Add(10 * time.Minute) }
	require.ErrorIs(t, d.Verify(fresh, "REGISTER", pHA1, src), ErrStaleNonce)
	d.now = time.Now
	sha, err := digest.ParseChallenge(d.Challenges(false, "", src)[0])
	require.NoError(t, err)
	require.Equal(t, "SHA-256", sha.Algorithm)
	shaCreds, err := digest.Digest(sha, digest.Options{Method: "REGISTER", URI: "sip:h", Username: "u", Password: "p", Count: 1})
	require.NoError(t, err)
	md5Only := NewDigest("r", []string{"MD5"}, nil, []byte("secret"))
	require.ErrorIs(t, md5Only.Verify(shaCreds, "REGISTER", pHA1, src), ErrBadCredential, "an algorithm not offered is refused")
	require.NoError(t, d.Verify(shaCreds, "REGISTER", pHA1, src))
	_, err = Credentials("Basic abc")
	require.ErrorIs(t, err, ErrNoCredentials)
}

func TestDigestWithoutQOPIsSingleUse(t *testing.T) {
	pHA1 := secrets.DigestHA1("u", "r", "p") // what the store keeps for password "p"
	d := NewDigest("r", []string{"MD5"}, nil, []byte("secret"))
	ch, err := digest.ParseChallenge(d.Challenges(false, "", "::1")[0])
	require.NoError(t, err)
	ch.QOP = nil // an RFC 2069 client: no qop, no nonce-count
	c, err := digest.Digest(ch, digest.Options{Method: "REGISTER", URI: "sip:h", Username: "u", Password: "p"})
	require.NoError(t, err)
	require.NoError(t, d.Verify(c, "REGISTER", pHA1, "::1"))
	require.ErrorIs(t, d.Verify(c, "REGISTER", pHA1, "::1"), ErrReplay)
}

func TestDigestNonceTableFull(t *testing.T) {
	pHA1 := secrets.DigestHA1("u", "r", "p") // what the store keeps for password "p"
	d := NewDigest("r", []string{"MD5"}, nil, []byte("secret"))
	ch, err := digest.ParseChallenge(d.Challenges(false, "", "::1")[0])
	require.NoError(t, err)
	c, err := digest.Digest(ch, digest.Options{Method: "REGISTER", URI: "sip:h", Username: "u", Password: "p", Count: 1})
	require.NoError(t, err)
	require.NoError(t, d.Verify(c, "REGISTER", pHA1, "::1"))
	for range maxNonceCounts {
		d.ncs[d.nonce("::1")] = 1 // live entries fill the table
	}
	d.mu.Lock()
	d.forgetExpiredLocked()
	d.mu.Unlock()
	require.Empty(t, d.ncs)
	require.ErrorIs(t, d.Verify(c, "REGISTER", pHA1, "::1"), ErrStaleNonce, "a forgotten nonce cannot be replayed")
}

// TestDigestVerifiesStoredHA1 checks phones' answers (the icholy/digest
// client, MD5 and SHA-256) against HA1s alone, as the store keeps them.
func TestDigestVerifiesStoredHA1(t *testing.T) {
	const src = "127.0.0.1"
	d := NewDigest("sb", []string{"SHA-256", "MD5"}, nil, []byte("secret"))
	stored := secrets.DigestHA1("101", "sb", "s3cret-pass")
	for i, alg := range []string{"SHA-256", "MD5"} {
		answer := func(password string) *digest.Credentials {
			ch, err := digest.ParseChallenge(d.Challenges(false, "", src)[i])
			require.NoError(t, err)
			require.Equal(t, alg, ch.Algorithm)
			c, err := digest.Digest(ch, digest.Options{Method: "REGISTER", URI: "sip:sb", Username: "101", Password: password, Count: 1})
			require.NoError(t, err)
			return c
		}
		t.Run(alg, func(t *testing.T) {
			require.NoError(t, d.Verify(answer("s3cret-pass"), "REGISTER", stored, src))
			require.ErrorIs(t, d.Verify(answer("wrong"), "REGISTER", stored, src), ErrBadCredential)
			require.ErrorIs(t, d.Verify(answer(""), "REGISTER", secrets.HA1{}, src), ErrBadCredential, "no password matches nothing")
			require.ErrorIs(t, d.Verify(answer("s3cret-pass"), "REGISTER", secrets.DigestHA1("101", "other", "s3cret-pass"), src),
				ErrBadCredential, "an HA1 is for one realm")
			require.ErrorIs(t, d.Verify(answer("s3cret-pass"), "REGISTER", secrets.DigestHA1("102", "sb", "s3cret-pass"), src),
				ErrBadCredential, "and one username")
		})
	}
}
