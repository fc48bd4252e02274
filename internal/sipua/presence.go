package sipua

import (
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/presence"
)

// Presence is the presence service as the SIP side uses it: a user's live
// registrations count as a device, and BLF subscriptions (SUBSCRIBE to the
// dialog event package) watch users through its Source.
type Presence interface {
	presence.Source
	// Registered says the user's registrations last until until (zero:
	// none left).
	Registered(user ident.UserID, until time.Time)
}

// SetPresence installs the presence service (before Start).
func (u *UA) SetPresence(p Presence) {
	u.presence = p
	u.Registrar.presence = p
}

// PresenceSource is what BLF subscriptions watch; nil until SetPresence.
func (u *UA) PresenceSource() presence.Source {
	if u.presence == nil {
		return nil
	}
	return u.presence
}

// reportRegistered tells presence until when the user's registrations
// last, after a REGISTER changed them.
func (g *Registrar) reportRegistered(user ident.UserID) {
	if g.presence == nil {
		return
	}
	var until time.Time
	for _, c := range g.Contacts(user) {
		if c.Expires.After(until) {
			until = c.Expires
		}
	}
	g.presence.Registered(user, until)
}
