package sipua

import (
	"context"
	"errors"
	"net"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/route"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// trunk is a configured trunk with the addresses it calls in from.
type trunk struct {
	config.Trunk
	inbound []net.IP
}

// trunkTable holds the configured trunks. It is read-only after New.
type trunkTable struct {
	trunks []*trunk
}

// newTrunkTable resolves each trunk's inbound addresses: the configured
// ones, else the host's (looked up once here when it is a name).
func newTrunkTable(cfg []config.Trunk, resolve func(ctx context.Context, host string) ([]net.IP, error)) (*trunkTable, error) {
	t := &trunkTable{}
	var errs []error
	for _, c := range cfg {
		tr := &trunk{Trunk: c}
		addrs := c.InboundAddresses
		if len(addrs) == 0 {
			addrs = []string{c.Host}
		}
		for _, a := range addrs {
			if ip := net.ParseIP(a); ip != nil {
				tr.inbound = append(tr.inbound, ip)
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			ips, err := resolve(ctx, a)
			cancel()
			if err != nil {
				errs = append(errs, err)
				continue
			}
			tr.inbound = append(tr.inbound, ips...)
		}
		t.trunks = append(t.trunks, tr)
	}
	return t, errors.Join(errs...)
}

// route returns the trunks that carry number in the order to try them:
// longest matching prefix first (a trunk with no prefixes matches with
// length 0), then lowest priority, then configuration order.
func (t *trunkTable) route(number string) []*trunk {
	type match struct {
		t    *trunk
		plen int
	}
	var ms []match
	for _, tr := range t.trunks {
		plen := -1
		if len(tr.Prefixes) == 0 {
			plen = 0
		}
		for _, p := range tr.Prefixes {
			if strings.HasPrefix(number, p) && len(p) > plen {
				plen = len(p)
			}
		}
		if plen >= 0 {
			ms = append(ms, match{tr, plen})
		}
	}
	sort.SliceStable(ms, func(i, j int) bool {
		if ms[i].plen != ms[j].plen {
			return ms[i].plen > ms[j].plen
		}
		return ms[i].t.Priority < ms[j].t.Priority
	})
	out := make([]*trunk, len(ms))
	for i, m := range ms {
		out[i] = m.t
	}
	return out
}

// fromSource returns the trunk whose inbound addresses include the host of
// src (host:port), or nil.
func (t *trunkTable) fromSource(src string) *trunk {
	ip := net.ParseIP(host(src))
	if ip == nil {
		return nil
	}
	for _, tr := range t.trunks {
		for _, a := range tr.inbound {
			if a.Equal(ip) {
				return tr
			}
		}
	}
	return nil
}

// TrunkParty implements call.Trunks: one party that calls number through
// the trunks carrying it, in order.
func (u *UA) TrunkParty(account ident.AccountID, number, callerID string, r call.Remote) call.Party {
	if !route.ValidE164(number) {
		return nil
	}
	ts := u.trunks.route(number)
	if len(ts) == 0 {
		return nil
	}
	return &trunkCall{ua: u, trunks: ts, number: number, callerID: u.callerID(account, callerID), remote: r,
		key: "trunk_" + ident.Short() + ident.Short()}
}

// callerID picks the number presented to a trunk: the requested one if the
// account owns it, else the account's default caller ID, else its first
// number, else anonymous. Extensions never leave the server.
func (u *UA) callerID(account ident.AccountID, requested string) string {
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
	return anonymous
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
