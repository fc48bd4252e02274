package call

import (
	"fmt"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

// PartState is a user's part in one call, as presence and BLF keys show it.
type PartState int

// Part states (RFC 4235's dialog states).
const (
	PartUnknown   PartState = iota
	PartEarly               // placing the call, or being rung
	PartConfirmed           // answered
	PartEnded               // over for this user (reported once, last)
)

var partNames = [...]string{"unknown", "early", "confirmed", "terminated"}

func (s PartState) String() string {
	if int(s) < len(partNames) {
		return partNames[s]
	}
	return fmt.Sprintf("part(%d)", int(s))
}

// UserPart is one user's part in one call.
type UserPart struct {
	Account   ident.AccountID
	User      ident.UserID
	CallID    ident.CallID // the call id the user's devices know
	State     PartState
	Initiator bool   // the user placed the call
	Remote    string // the other party's extension or number, when known
}

// Activity is told each user's part in each call as it changes (presence:
// on_call, and the dialogs BLF keys show). It runs on the call's actor
// goroutine: it must not block.
type Activity interface {
	UserPartChanged(p UserPart)
}

// reportParts tells the Activity what changed in the users' parts since
// the last report; it runs after each event the actor handles. A user
// with several devices in the call (ring-all) has one part: the furthest.
func (c *Call) reportParts() {
	a := c.m.opt.Activity
	if a == nil {
		return
	}
	now := c.userParts()
	for user, p := range now {
		if old, ok := c.parts[user]; !ok || old != p {
			a.UserPartChanged(p)
		}
	}
	for user, p := range c.parts {
		if _, ok := now[user]; !ok {
			p.State = PartEnded
			a.UserPartChanged(p)
		}
	}
	c.parts = now
}

// userParts derives every user's part from the call's legs and state.
func (c *Call) userParts() map[ident.UserID]UserPart {
	if c.done || c.state == StateEnded {
		return nil
	}
	out := map[ident.UserID]UserPart{}
	add := func(l *leg, initiator bool, remote string) {
		if l == nil || l.user == "" || l.ended {
			return
		}
		st := c.partState(l)
		if st == PartUnknown {
			return
		}
		if old, ok := out[l.user]; ok && old.State >= st {
			return
		}
		id := c.id
		if l.callID != "" {
			id = l.callID
		}
		out[l.user] = UserPart{Account: c.account, User: l.user, CallID: id, State: st,
			Initiator: initiator, Remote: remote}
	}
	add(c.caller, c.caller.role == roleCaller, c.remoteOf(c.caller))
	for _, l := range c.callees {
		add(l, false, c.caller.num)
	}
	return out
}

// partState is l's part: confirmed once the call is connected with l in
// it, early while it is being set up or rings l.
func (c *Call) partState(l *leg) PartState {
	connected := c.state == StateActive || c.state == StateHeld
	switch {
	case l == c.caller && c.parked != nil: // waiting in a park slot: still on the call
		return PartConfirmed
	case l == c.caller:
		if connected && (c.winner != nil || c.echo != nil) {
			return PartConfirmed
		}
		return PartEarly
	case l == c.winner:
		if connected {
			return PartConfirmed
		}
		return PartEarly
	case l.alerted && c.winner == nil:
		return PartEarly
	}
	return PartUnknown
}

// remoteOf is how the caller's other party is shown: the answering
// party, else what is being dialled.
func (c *Call) remoteOf(l *leg) string {
	if c.winner != nil && c.winner != l && c.winner.num != "" {
		return c.winner.num
	}
	return c.dest
}
