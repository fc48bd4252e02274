package sipua

import (
	"github.com/switchboard-voice/switchboard/internal/park"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// SetPark lets BLF keys watch park slots: a SUBSCRIBE (dialog package) to
// 701 watches slot 701 of the subscriber's account (before Start). The
// presence source must answer for the slots' ids (park.Lot.Watch).
func (u *UA) SetPark(lot *park.Lot) { u.park = lot }

// parkTarget is the slot a SUBSCRIBE's Request-URI user names, as the
// watched "user" (its id is the slot's presence id), or nil.
func (u *UA) parkTarget(subscriber *store.User, name string) *store.User {
	slot, ok := u.park.Slot(name)
	if !ok {
		return nil
	}
	return &store.User{ID: park.ID(slot), AccountID: subscriber.AccountID, Extension: name, Name: "Park " + name}
}
