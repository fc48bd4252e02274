package server

import (
	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/presence"
)

// presenceActivity tells presence each user's part in each call.
type presenceActivity struct {
	hub interface {
		CallChanged(ident.UserID, presence.Dialog)
	}
}

var dialogStates = map[call.PartState]presence.DialogState{
	call.PartEarly:     presence.DialogEarly,
	call.PartConfirmed: presence.DialogConfirmed,
	call.PartEnded:     presence.DialogTerminated,
}

func (a presenceActivity) UserPartChanged(p call.UserPart) {
	st, ok := dialogStates[p.State]
	if !ok {
		return
	}
	a.hub.CallChanged(p.User, presence.Dialog{ID: string(p.CallID), State: st, Initiator: p.Initiator, Remote: p.Remote})
}
