package server

import (
	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/park"
	"github.com/switchboard-voice/switchboard/internal/presence"
)

// newParkLot makes the park slots the configuration asks for; nil when
// call park is off.
func newParkLot(c config.Park) *park.Lot {
	first, last, ok := c.Range()
	if !ok {
		return nil
	}
	return park.New(first, last)
}

// parkPresence answers presence watches of park slots ("park.701") from
// the slots, and every other watch from the presence service.
type parkPresence struct {
	clusterAwarePresence
	lot *park.Lot
}

func (p parkPresence) Watch(account ident.AccountID, user ident.UserID, fn func(presence.State)) (presence.State, func(), error) {
	if _, ok := p.lot.SlotOfID(user); ok {
		return p.lot.Watch(account, user, fn)
	}
	return p.clusterAwarePresence.Watch(account, user, fn)
}
