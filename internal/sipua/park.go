package sipua

import (
	"github.com/emiago/sipgo/sip"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/park"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// SetPark lets BLF keys watch park slots: a SUBSCRIBE (dialog package) to
// 701 watches slot 701 of the subscriber's account (before Start). The
// presence source must answer for the slots' ids (park.Lot.Watch).
func (u *UA) SetPark(lot *park.Lot) { u.park = lot }

// SetParkRedirect, in a cluster, names a peer's SIP address (host:port,
// "" unknown): a phone's INVITE to a slot parked on that peer is
// redirected there (before Start).
func (u *UA) SetParkRedirect(addr func(node string) string) { u.parkNode = addr }

// parkTarget is the slot a SUBSCRIBE's Request-URI user names, as the
// watched "user" (its id is the slot's presence id), or nil.
func (u *UA) parkTarget(subscriber *store.User, name string) *store.User {
	slot, ok := u.park.Slot(name)
	if !ok {
		return nil
	}
	return &store.User{ID: park.ID(slot), AccountID: subscriber.AccountID, Extension: name, Name: "Park " + name}
}

// redirectPickup answers a phone's INVITE to a slot whose call another
// node of the cluster holds with 302 Moved Temporarily to that node, as
// an INVITE past the node's ceiling is (redirect.go); it reports whether
// it did.
func (u *UA) redirectPickup(r *responder, account ident.AccountID, dest string) bool {
	if u.parkNode == nil {
		return false
	}
	slot, ok := u.park.Slot(dest)
	if !ok {
		return false
	}
	node := u.park.Owner(account, slot)
	if node == "" {
		return false
	}
	c := redirectContact(r.req, u.parkNode(node))
	if c == "" {
		return false
	}
	u.log.Info("sip: pickup of a slot parked on another node redirected", "node", node, "contact", c,
		"call_id", r.req.CallID().Value())
	r.respond(302, "Moved Temporarily", nil, sip.NewHeader("Contact", c))
	return true
}
