package sipua

import (
	"context"
	"errors"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/route"
	"github.com/switchboard-voice/switchboard/internal/secrets"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// trunk is a configured or stored trunk with the addresses it calls in
// from.
type trunk struct {
	config.Trunk
	id      ident.TrunkID   // empty for config file trunks
	account ident.AccountID // whose numbers it reaches; empty: the default account
	inbound []inboundAddr
}

// inboundAddr is a source a trunk's INVITEs come from. Over UDP both the
// IP and the port must match (a forged or stray datagram from another
// program on the trunk's host is not the trunk); connection-oriented
// transports come from ephemeral ports, so only the IP is compared.
type inboundAddr struct {
	ip   net.IP
	port int
}

// from reports whether a request from ip:port over transport comes from
// one of the trunk's inbound addresses.
func (tr *trunk) from(ip net.IP, port int, transport string) bool {
	datagram := transport == "" || strings.EqualFold(transport, "udp")
	for _, a := range tr.inbound {
		if a.ip.Equal(ip) && (!datagram || a.port == port) {
			return true
		}
	}
	return false
}

// key names the trunk among all trunks: its id, or its config file name.
func (t *trunk) key() string {
	if t.id != "" {
		return string(t.id)
	}
	return "config:" + t.Name
}

// trunkTable holds the trunks calls use: the config file's, then the
// stored ones (replaced as a whole by setStored while calls read it).
type trunkTable struct {
	resolve func(ctx context.Context, host string) ([]net.IP, error)
	config  []*trunk

	mu     sync.RWMutex
	trunks []*trunk

	regs registrations
}

// newTrunkTable resolves each config trunk's inbound addresses: the
// configured ones, else the host's (looked up once here when it is a name).
func newTrunkTable(cfg []config.Trunk, resolve func(ctx context.Context, host string) ([]net.IP, error)) (*trunkTable, error) {
	t := &trunkTable{resolve: resolve}
	var errs []error
	for _, c := range cfg {
		tr, err := t.newTrunk(c, "")
		errs = append(errs, err)
		t.config = append(t.config, tr)
	}
	t.trunks = t.config
	return t, errors.Join(errs...)
}

// newTrunk resolves c's inbound addresses; the trunk still calls out when
// some do not resolve (the error says which).
func (t *trunkTable) newTrunk(c config.Trunk, id ident.TrunkID) (*trunk, error) {
	tr := &trunk{Trunk: c, id: id}
	port := c.Port
	if port == 0 {
		port = 5060
	}
	addrs := c.InboundAddresses
	if len(addrs) == 0 {
		addrs = []string{c.Host}
	}
	var errs []error
	for _, a := range addrs {
		if ip, p, err := config.ParseInboundAddress(a); err == nil {
			if p == 0 {
				p = port
			}
			tr.inbound = append(tr.inbound, inboundAddr{ip, p})
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ips, err := t.resolve(ctx, a) // the host's name (inbound_addresses are IPs, validated)
		cancel()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, ip := range ips {
			tr.inbound = append(tr.inbound, inboundAddr{ip, port})
		}
	}
	return tr, errors.Join(errs...)
}

// setStored replaces the stored trunks (after the config file's).
func (t *trunkTable) setStored(stored []store.Trunk) error {
	all := append([]*trunk(nil), t.config...)
	var errs []error
	for _, s := range stored {
		tr, err := t.newTrunk(ConfigTrunk(s), s.ID)
		errs = append(errs, err)
		all = append(all, tr)
	}
	t.mu.Lock()
	t.trunks = all
	t.mu.Unlock()
	return errors.Join(errs...)
}

// all returns the current trunks.
func (t *trunkTable) all() []*trunk {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.trunks
}

// ConfigTrunk is a stored trunk as a config file trunk.
func ConfigTrunk(s store.Trunk) config.Trunk {
	return config.Trunk{Name: s.Name, Host: s.Host, Port: s.Port, Transport: s.Transport, Username: s.Username,
		Password: s.Password, Prefixes: s.Prefixes, Priority: s.Priority, InboundAddresses: s.InboundAddresses,
		InboundAuth: s.InboundAuth, InboundUsername: s.InboundUsername, InboundPassword: s.InboundPassword,
		Register: s.Register, RegisterExpires: s.RegisterExpires}
}

// route returns the trunks that carry number in the order to try them:
// longest matching prefix first (a trunk with no prefixes matches with
// length 0), then lowest priority, then configuration order (config file
// trunks, then stored ones oldest first).
func (t *trunkTable) route(number string) []*trunk { return t.ordered(number, "") }

// ordered is the trunks a call to number tries, in route.OrderTrunks'
// order (the rule planning explains).
func (t *trunkTable) ordered(number, first string) []*trunk {
	all := t.all()
	infos := make([]route.TrunkInfo, len(all))
	for i, tr := range all {
		infos[i] = route.TrunkInfo{Name: tr.Name, Prefixes: tr.Prefixes, Priority: tr.Priority}
	}
	var out []*trunk
	for _, i := range route.OrderTrunks(infos, number, first) {
		out = append(out, all[i])
	}
	return out
}

// fromSource returns the trunk a request from src (ip:port) over
// transport (UDP, TCP, TLS…) comes from, or nil: the first whose inbound
// addresses include src's IP and, over UDP, its port.
func (t *trunkTable) fromSource(src, transport string) *trunk {
	h, p, err := net.SplitHostPort(src)
	if err != nil {
		return nil
	}
	ip := net.ParseIP(h)
	port, err := strconv.Atoi(p)
	if ip == nil || err != nil {
		return nil
	}
	for _, tr := range t.all() {
		if tr.from(ip, port, transport) {
			return tr
		}
	}
	return nil
}

// flow is the flow check of a dialog with trunk tr (made over
// transport): in-dialog requests come from the same trunk, by the rules
// of fromSource. Trunks are compared by key, as ReloadTrunks replaces
// the stored ones' values.
func (t *trunkTable) flow(tr *trunk, transport string) func(src string) bool {
	return func(src string) bool {
		got := t.fromSource(src, transport)
		return got != nil && got.key() == tr.key()
	}
}

// authenticateTrunk checks the digest credentials of an INVITE from a
// trunk with inbound_auth digest, as Registrar.authenticate checks a
// phone's: 407 with Proxy-Authenticate (sent statelessly) when they are
// missing or their nonce is stale, foreign or replayed, 403 when they are
// wrong, and failures count towards sip.ban_after. It answers the request
// itself when it returns false.
func (u *UA) authenticateTrunk(r *responder, t *trunk) bool {
	return u.Registrar.checkDigest(r, digestCheck{header: "Proxy-Authorization", challengeHeader: "Proxy-Authenticate", failStatus: 407,
		ha1: func(username string) secrets.HA1 {
			if username == t.InboundUsername {
				return secrets.DigestHA1(t.InboundUsername, u.Registrar.digest.realm, t.InboundPassword)
			}
			return secrets.HA1{}
		},
		banKey: func(string) string { return "trunk:" + t.key() }, // not a phone's username
	})
}

// trunkAccount is the account whose numbers a trunk's calls reach: its
// own, else the default account (the oldest, as server.EnsureDefaultAccount
// makes it), which owns the config file's trunks and stored ones.
func (u *UA) trunkAccount(ctx context.Context, t *trunk) (ident.AccountID, error) {
	if t.account != "" {
		return t.account, nil
	}
	accts, err := u.store.ListAccounts(ctx)
	if err != nil {
		return "", err
	}
	if len(accts) == 0 {
		return "", store.ErrNotFound
	}
	return accts[0].ID, nil
}

// TrunkParty implements call.Trunks: one party that calls the number
// through the trunks carrying it, in order. An emergency call tries the
// requested trunk first, then every other trunk: it must get out.
func (u *UA) TrunkParty(req call.TrunkRequest, r call.Remote) call.Party {
	var ts []*trunk
	switch {
	case req.Emergency && route.EmergencyShaped(req.Number):
		ts = u.trunks.emergency(req.Trunk)
	case route.ValidE164(req.Number):
		ts = u.trunks.route(req.Number)
	}
	if len(ts) == 0 {
		return nil
	}
	id := u.callerID(req.Account, req.CallerID)
	return &trunkCall{outDialog: outDialog{sipParty: sipParty{ua: u, remote: r, key: "trunk_" + ident.Short() + ident.Short()}},
		trunks: ts, number: req.Number, callerID: id.from, asserted: id.asserted, location: emergencyLocation(req)}
}

// emergency orders every trunk for an emergency call: the named one
// first, then by priority.
func (t *trunkTable) emergency(first string) []*trunk { return t.ordered("", first) }

// Infos implements call.Trunks.
func (u *UA) Infos() []route.TrunkInfo {
	var out []route.TrunkInfo
	for _, t := range u.trunks.all() {
		out = append(out, route.TrunkInfo{Name: t.Name, Prefixes: t.Prefixes, Priority: t.Priority})
	}
	return out
}

// callerIdentity is who a call through a trunk is from: the number From
// presents (E.164 the account owns, or anonymous) and the account's
// number asserted to the trunk (P-Asserted-Identity), "" when it has none.
type callerIdentity struct {
	from, asserted string
}

// callerID picks the number presented to a trunk: the requested one if the
// account owns it, else the account's default caller ID, else its first
// number, else anonymous. A caller asking for anonymous withholds its
// number: From is anonymous, and the number it would have presented is
// still asserted (the trunk withholds it, Privacy: id). Extensions never
// leave the server.
func (u *UA) callerID(account ident.AccountID, requested string) callerIdentity {
	number := u.accountNumber(account, requested)
	if requested == anonymous || number == "" {
		return callerIdentity{from: anonymous, asserted: number}
	}
	return callerIdentity{from: number, asserted: number}
}

// accountNumber is the number requested if the account owns it, else the
// account's default caller ID, else its first number, else "".
func (u *UA) accountNumber(account ident.AccountID, requested string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	owns := func(n string) bool {
		if !route.ValidE164(n) {
			return false
		}
		pn, err := u.store.GetPhoneNumberByNumber(ctx, n)
		return err == nil && pn.AccountID == account
	}
	if owns(requested) {
		return requested
	}
	if a, err := u.store.GetAccount(ctx, account); err == nil && owns(a.DefaultCallerID) {
		return a.DefaultCallerID
	}
	if ns, _, err := u.store.ListPhoneNumbers(ctx, account, store.ListOptions{Limit: 1}); err == nil && len(ns) > 0 && owns(ns[0].Number) {
		return ns[0].Number
	}
	return ""
}

const anonymous = "anonymous"

var nationalRe = regexp.MustCompile(`^[1-9][0-9]{6,14}$`)

// didOf reads the number a trunk called: E.164, or the same digits
// without the "+" (as many PBXs send them). Anything else is "".
func didOf(user string) string {
	switch {
	case route.ValidE164(user):
		return user
	case nationalRe.MatchString(user):
		return "+" + user
	}
	return ""
}

var callerDigitsRe = regexp.MustCompile(`^\+?[0-9]{2,15}$`)

// trunkCaller sanitises the caller a trunk presents: a number (E.164 or
// plain digits) or anonymous, and a short printable display name. Both
// reach browsers and desk phones' From headers.
func trunkCaller(user, display string) (from, name string) {
	from = anonymous
	if callerDigitsRe.MatchString(user) {
		from = user
	}
	var b strings.Builder
	n := 0
	for _, r := range display {
		if n == 40 {
			break
		}
		if !unicode.IsPrint(r) || r == '"' || r == '\\' || r == '<' || r == '>' {
			continue
		}
		b.WriteRune(r)
		n++
	}
	return from, strings.TrimSpace(b.String())
}
