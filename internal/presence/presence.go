// Package presence tracks, for each user, whether they can be reached and
// whether they are on a call, and tells watchers when that changes: browser
// sessions (presence.subscribe), SIP desk phones (SUBSCRIBE to the dialog
// event package for BLF keys) and the REST API.
//
// The call and device layers report activity; watchers only read. A change
// costs one pass over that user's watchers.
package presence

import (
	"errors"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

// Status is a user's presence summary; on_call wins over available, which
// wins over offline.
type Status string

// Statuses, as the wire protocol spells them.
const (
	Available Status = "available"
	OnCall    Status = "on_call"
	Offline   Status = "offline"
)

// DialogState is the state of one of the user's calls, as RFC 4235 names it.
type DialogState string

// Dialog states a BLF key shows. A call that ends is reported once more as
// terminated and then dropped from the state.
const (
	DialogEarly      DialogState = "early"
	DialogConfirmed  DialogState = "confirmed"
	DialogTerminated DialogState = "terminated"
)

// Dialog is one live call of a user.
type Dialog struct {
	ID        string // the call's id; stable for the call's life
	State     DialogState
	Initiator bool   // the user placed the call (RFC 4235 direction)
	Remote    string // the other party's number or extension, when known
}

// State is one user's presence at one moment.
type State struct {
	User         ident.UserID
	Account      ident.AccountID
	Name         string
	Extension    string
	Status       Status
	DoNotDisturb bool
	StatusText   string
	UpdatedAt    time.Time
	Dialogs      []Dialog
}

// ErrUnavailable is returned for a user that does not exist or belongs to
// another account than the watcher's; callers answer presence_unavailable.
var ErrUnavailable = errors.New("presence unavailable")

// Source is what watchers use.
type Source interface {
	// Watch returns user's current state and then calls fn with each
	// change until cancel is called. fn runs on the notifier's goroutine:
	// it must not block (queue the state and return). The watcher's
	// account must own user, or Watch returns ErrUnavailable.
	Watch(account ident.AccountID, user ident.UserID, fn func(State)) (current State, cancel func(), err error)
}
