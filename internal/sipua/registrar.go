package sipua

import (
	"context"
	"errors"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/secrets"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// Contact is one registered desk phone of a user.
type Contact struct {
	User      ident.UserID
	URI       string // the Contact URI the phone registered
	Source    string // where its REGISTER came from (host:port): reachable through NAT
	Transport string // udp, tcp, tls
	Expires   time.Time
	CallID    string
	UserAgent string // the REGISTER's User-Agent header (cut to 256 bytes)
	// Route, for a phone registered over TCP, TLS or WebSocket via another
	// node of a cluster, is that node's EdgeRoute: the INVITE goes there.
	Route string
}

// Registrar keeps users' registered contacts (RFC 3261 §10) in memory:
// phones re-register well within the lifetime, so a restart loses nothing
// for long.
type Registrar struct {
	ua     *UA // metrics and rate-limited logs
	cfg    config.SIP
	users  store.Users
	digest *Digest
	bans   *bans
	now    func() time.Time
	// presence hears when a user's registrations change (presence.go).
	presence Presence
	// observer hears of contacts that come and go (regevents.go).
	observer RegistrationObserver

	mu        sync.Mutex
	bindings  map[ident.UserID][]Contact
	announced map[ident.UserID]*announced
	closed    bool
}

// NewRegistrar returns a registrar authenticating against users.
func NewRegistrar(cfg config.SIP, users store.Users, d *Digest) *Registrar {
	return &Registrar{cfg: cfg, users: users, digest: d, now: time.Now,
		bans:     newBans(cfg.BanAfter, cfg.BanWindow, cfg.BanFor),
		bindings: map[ident.UserID][]Contact{}, announced: map[ident.UserID]*announced{}}
}

// Count is the number of live bindings, all users together.
func (g *Registrar) Count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n, now := 0, g.now()
	for _, cs := range g.bindings {
		for _, c := range cs {
			if c.Expires.After(now) {
				n++
			}
		}
	}
	return n
}

// Contacts returns the user's live contacts.
func (g *Registrar) Contacts(user ident.UserID) []Contact {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.liveLocked(user)
}

func (g *Registrar) liveLocked(user ident.UserID) []Contact {
	now := g.now()
	var out []Contact
	for _, c := range g.bindings[user] {
		if c.Expires.After(now) {
			out = append(out, c)
		}
	}
	g.bindings[user] = out
	return append([]Contact(nil), out...)
}

// authenticate checks a phone's request: its digest credentials (header
// is Authorization or Proxy-Authorization) against the users' SIP
// HA1s. It returns the user, or nil once it has answered the request.
func (g *Registrar) authenticate(r *responder, header, challengeHeader string, failStatus int) *store.User {
	var user *store.User
	ok := g.checkDigest(r, digestCheck{header: header, challengeHeader: challengeHeader, failStatus: failStatus,
		ha1: func(username string) secrets.HA1 {
			u, err := g.users.GetUserBySIPUsername(context.Background(), username)
			if err != nil {
				return secrets.HA1{}
			}
			user = u
			return u.SIPHA1
		}})
	if !ok {
		return nil
	}
	return user
}

// digestCheck says what one digest check looks for.
type digestCheck struct {
	header, challengeHeader string // Authorization / WWW-Authenticate, or the Proxy- pair
	failStatus              int    // 401 or 407
	// ha1 returns the HA1s of username, zero for none (checked like any
	// other, so unknown names fail as wrong passwords do).
	ha1 func(username string) secrets.HA1
	// banKey maps a username to the name bans count it under (default:
	// itself; a trunk's is kept apart from the phones').
	banKey func(username string) string
}

// checkDigest is the one digest gate, for phones and trunks. It answers
// the request itself when it returns false: challenges statelessly
// (respondStateless), a banned source or wrong credentials with 403, a
// user backing off with 503 and Retry-After, a replayed or foreign nonce
// with a fresh challenge, an expired one with stale=true.
func (g *Registrar) checkDigest(r *responder, c digestCheck) bool {
	src := host(r.req.Source())
	now := g.now()
	if g.bans.check(src, "", now).banned {
		r.respond(403, "Forbidden", nil)
		return false
	}
	var authValue, agent string
	if h := r.req.GetHeader(c.header); h != nil {
		authValue = h.Value()
	}
	if h := r.req.GetHeader("User-Agent"); h != nil {
		agent = h.Value()
	}
	challenge := func(stale bool) {
		r.respondStateless(c.failStatus, reasonFor(c.failStatus), challenges(g.digest.Challenges(stale, agent, src), c.challengeHeader)...)
	}
	creds, err := Credentials(authValue)
	if errors.Is(err, ErrNoCredentials) {
		challenge(false)
		return false
	}
	banKey := creds.Username
	if c.banKey != nil {
		banKey = c.banKey(creds.Username)
	}
	switch v := g.bans.check(src, banKey, now); {
	case v.banned:
		r.respond(403, "Forbidden", nil)
		return false
	case v.retryAfter > 0:
		secs := int(v.retryAfter.Round(time.Second).Seconds())
		r.respondStateless(503, "Service Unavailable", sip.NewHeader("Retry-After", strconv.Itoa(max(secs, 1))))
		return false
	}
	logArgs := []any{"src", r.req.Source(), "user", truncate(creds.Username, 64), "method", r.req.Method.String()}
	switch err := g.digest.Verify(creds, string(r.req.Method), c.ha1(creds.Username), src); {
	case errors.Is(err, ErrStaleNonce):
		challenge(true)
		return false
	case errors.Is(err, ErrForeignNonce), errors.Is(err, ErrReplay):
		// Another source's nonce, or a nonce-count used before: a
		// replayed Authorization. A fresh challenge, and nothing else.
		g.ua.logs.limited("replay:"+src, "sip: credentials replayed or from another source", append(logArgs, "err", err)...)
		challenge(false)
		return false
	case err != nil:
		g.ua.metrics.authFails.Inc()
		g.ua.logs.limited("authfail:"+src, "sip: authentication failed", logArgs...)
		for _, scope := range g.bans.fail(src, banKey, now) {
			g.ua.metrics.bans.WithLabelValues(scope).Inc()
			g.ua.log.Warn("sip: ban", "scope", scope, "src", src, "user", truncate(banKey, 64), "for", g.cfg.BanFor)
		}
		r.respond(403, "Forbidden", nil)
		return false
	}
	g.bans.succeed(src, banKey, now)
	return true
}

func reasonFor(status int) string {
	if status == 407 {
		return "Proxy Authentication Required"
	}
	return "Unauthorized"
}

func challenges(values []string, name string) []sip.Header {
	out := make([]sip.Header, len(values))
	for i, v := range values {
		out[i] = sip.NewHeader(name, v)
	}
	return out
}

// handleRegister is the REGISTER handler.
func (g *Registrar) handleRegister(r *responder) {
	u := g.authenticate(r, "Authorization", "WWW-Authenticate", 401)
	if u == nil {
		return
	}
	if to := r.req.To(); to == nil || to.Address.User != u.SIPUsername {
		r.respond(403, "Forbidden", nil) // credentials of one user cannot register another's address
		return
	}
	defaultExpiry := g.cfg.MaxExpires
	if h := r.req.GetHeader("Expires"); h != nil {
		n, err := strconv.Atoi(strings.TrimSpace(h.Value()))
		if err != nil || n < 0 {
			r.respond(400, "Bad Request", nil)
			return
		}
		defaultExpiry = time.Duration(n) * time.Second
	}
	if status, reason := g.update(u, r.req, defaultExpiry); status != 200 {
		r.respond(status, reason, nil, sip.NewHeader("Min-Expires", strconv.Itoa(int(g.cfg.MinExpires.Seconds()))))
		return
	}
	g.reportRegistered(u.ID)
	g.reconcile(u.ID, u.AccountID)
	r.respond(200, "OK", nil, g.bindingHeaders(r, u)...)
}

// maxUDPResponse is the size a response sent over UDP must fit: RFC 3261
// §18.1.1's 1300 bytes, which sipgo enforces for every UDP message.
const maxUDPResponse = 1300

// bindingHeaders lists the user's bindings for a 200 to REGISTER (RFC 3261
// §10.3 step 8). Over UDP the list is trimmed to fit one datagram: the
// contacts this request registered first, then the others, newest first.
func (g *Registrar) bindingHeaders(r *responder, u *store.User) []sip.Header {
	now := g.now()
	contacts := g.Contacts(u.ID)
	callID := r.req.CallID().Value()
	sort.SliceStable(contacts, func(i, j int) bool {
		mi, mj := contacts[i].CallID == callID, contacts[j].CallID == callID
		if mi != mj {
			return mi
		}
		return contacts[i].Expires.After(contacts[j].Expires)
	})
	date := sip.NewHeader("Date", now.UTC().Format(time.RFC1123))
	var headers []sip.Header
	for _, c := range contacts {
		secs := int(c.Expires.Sub(now).Round(time.Second).Seconds())
		headers = append(headers, sip.NewHeader("Contact", "<"+c.URI+">;expires="+strconv.Itoa(secs)))
	}
	if !strings.EqualFold(r.req.Transport(), "UDP") {
		return append(headers, date)
	}
	for len(headers) > 0 && len(r.response(200, "OK", nil, append(headers, date)...).String()) > maxUDPResponse {
		headers = headers[:len(headers)-1]
	}
	return append(headers, date)
}

// update applies the REGISTER's Contact headers; it returns the status.
func (g *Registrar) update(u *store.User, req *sip.Request, defaultExpiry time.Duration) (int, string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	live := g.liveLocked(u.ID)
	for _, h := range req.GetHeaders("Contact") {
		if strings.TrimSpace(h.Value()) == "*" { // remove every binding (§10.2.2)
			if defaultExpiry != 0 {
				return 400, "Bad Request"
			}
			live = nil
			continue
		}
		ch, ok := h.(*sip.ContactHeader)
		if !ok {
			return 400, "Bad Request"
		}
		expiry := defaultExpiry
		if v, ok := ch.Params.Get("expires"); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return 400, "Bad Request"
			}
			expiry = time.Duration(n) * time.Second
		}
		uri := ch.Address.String()
		live = removeContact(live, uri)
		if expiry == 0 {
			continue
		}
		if expiry < g.cfg.MinExpires {
			return 423, "Interval Too Brief"
		}
		expiry = min(expiry, g.cfg.MaxExpires)
		live = append(live, Contact{User: u.ID, URI: uri, Source: req.Source(), Transport: strings.ToLower(req.Transport()),
			Expires: g.now().Add(expiry), CallID: req.CallID().Value(), UserAgent: registeredAgent(req)})
	}
	if len(live) > g.cfg.MaxContacts { // keep the newest
		sort.Slice(live, func(i, j int) bool { return live[i].Expires.After(live[j].Expires) })
		live = live[:g.cfg.MaxContacts]
	}
	g.bindings[u.ID] = live
	return 200, "OK"
}

func removeContact(cs []Contact, uri string) []Contact {
	out := cs[:0]
	for _, c := range cs {
		if c.URI != uri {
			out = append(out, c)
		}
	}
	return out
}

func host(hostport string) string {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	return h
}

// registeredAgent is req's User-Agent, cut to 256 bytes at a rune boundary.
func registeredAgent(req *sip.Request) string {
	h := req.GetHeader("User-Agent")
	if h == nil {
		return ""
	}
	ua := h.Value()
	if len(ua) > 256 {
		ua = strings.ToValidUTF8(ua[:256], "")
	}
	return ua
}
