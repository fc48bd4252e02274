package sipua

import (
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

// Registration states a RegistrationObserver hears: RegRegistered (a new
// contact, or one re-registered from another address or transport), and
// these.
const (
	RegUnregistered = "unregistered" // removed by the phone (Expires: 0, Contact: *) or pushed out by sip.max_contacts
	RegExpired      = "expired"      // not refreshed before its expiry
)

// RegistrationChange is one contact of a user that came or went.
type RegistrationChange struct {
	Account ident.AccountID
	Contact Contact
	State   string
}

// RegistrationObserver hears of contacts that come and go (not of plain
// refreshes). It is called without the registrar's lock, on the SIP
// handler's goroutine or a timer's: it must not block.
type RegistrationObserver interface {
	RegistrationChanged(c RegistrationChange)
}

// SetRegistrationObserver installs o (before Start).
func (u *UA) SetRegistrationObserver(o RegistrationObserver) { u.Registrar.observer = o }

// announced is what the observer was last told of one user's contacts,
// by URI, and the timer that looks for the next expiry.
type announced struct {
	account  ident.AccountID
	contacts map[string]Contact
	timer    *time.Timer
}

// reconcile compares the user's live contacts with what the observer was
// told and tells it the differences; it re-arms the expiry timer.
func (g *Registrar) reconcile(user ident.UserID, account ident.AccountID) {
	if g.observer == nil {
		return
	}
	g.mu.Lock()
	changes := g.reconcileLocked(user, account)
	g.mu.Unlock()
	for _, c := range changes {
		g.observer.RegistrationChanged(c)
	}
}

func (g *Registrar) reconcileLocked(user ident.UserID, account ident.AccountID) []RegistrationChange {
	a := g.announced[user]
	if a == nil {
		if account == "" {
			return nil // a timer of a user forgotten meanwhile
		}
		a = &announced{contacts: map[string]Contact{}}
		g.announced[user] = a
	}
	if account != "" {
		a.account = account
	}
	now := g.now()
	live := g.liveLocked(user)
	var out []RegistrationChange
	seen := map[string]bool{}
	next := time.Time{}
	for _, c := range live {
		seen[c.URI] = true
		if old, ok := a.contacts[c.URI]; !ok || old.Source != c.Source || old.Transport != c.Transport {
			out = append(out, RegistrationChange{Account: a.account, Contact: c, State: RegRegistered})
		}
		a.contacts[c.URI] = c
		if next.IsZero() || c.Expires.Before(next) {
			next = c.Expires
		}
	}
	for uri, c := range a.contacts {
		if seen[uri] {
			continue
		}
		state := RegUnregistered
		if !c.Expires.After(now) {
			state = RegExpired
		}
		out = append(out, RegistrationChange{Account: a.account, Contact: c, State: state})
		delete(a.contacts, uri)
	}
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	switch {
	case len(a.contacts) == 0:
		delete(g.announced, user)
	case !g.closed:
		acct := a.account
		a.timer = time.AfterFunc(next.Sub(now)+10*time.Millisecond, func() { g.reconcile(user, acct) })
	}
	return out
}

// stopTimers stops the expiry timers (at shutdown: nothing expires after).
func (g *Registrar) stopTimers() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	for _, a := range g.announced {
		if a.timer != nil {
			a.timer.Stop()
		}
	}
}
