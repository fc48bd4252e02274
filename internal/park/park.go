// Package park owns the park slots of each account on this node: which
// slot holds which parked call, the first free slot for a new park, and
// the slots' presence (busy or idle) for browsers (presence.subscribe
// "park.701") and desk phones' BLF keys (SUBSCRIBE to 701).
//
// Slots live in memory on the node that parked the call; a cluster does
// not share them yet. The call layer (internal/call/park.go) decides what
// parking means for a call; this package only keeps the table.
package park

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/presence"
)

// Defaults: slots 701–720, parked calls ring the parker back after 2 min.
const (
	DefaultFirst   = 701
	DefaultLast    = 720
	DefaultTimeout = 120 * time.Second
)

// SlotPrefix starts a slot's presence id ("park.701").
const SlotPrefix = "park."

// Parked is what a slot holds.
type Parked struct {
	Call     ident.CallID // the parked call (its actor's id)
	From     string       // the parked party's number or extension
	FromName string
	By       ident.UserID // who parked it
}

// Lot is every account's slots on this node. It is safe for concurrent
// use; watchers are called under its lock (so each sees the slot's
// changes in order): they must not block nor call back into the Lot.
type Lot struct {
	first, last int

	mu       sync.Mutex
	taken    map[slotKey]Parked
	watchers map[slotKey][]*watch
	changed  map[slotKey]time.Time
}

type slotKey struct {
	account ident.AccountID
	slot    int
}

type watch struct {
	fn        func(presence.State)
	cancelled atomic.Bool
}

// New returns a lot with slots first..last (inclusive).
func New(first, last int) *Lot {
	return &Lot{first: first, last: last, taken: map[slotKey]Parked{},
		watchers: map[slotKey][]*watch{}, changed: map[slotKey]time.Time{}}
}

// Slot parses dest as one of the lot's slots; ok is false for anything
// else.
func (l *Lot) Slot(dest string) (int, bool) {
	if l == nil || dest == "" || len(dest) > 6 || strings.TrimLeft(dest, "0123456789") != "" || dest[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(dest)
	if err != nil || n < l.first || n > l.last {
		return 0, false
	}
	return n, true
}

// SlotOfID parses a presence id ("park.701") as one of the lot's slots.
func (l *Lot) SlotOfID(user ident.UserID) (int, bool) {
	rest, ok := strings.CutPrefix(string(user), SlotPrefix)
	if !ok {
		return 0, false
	}
	return l.Slot(rest)
}

// ID is a slot's presence id.
func ID(slot int) ident.UserID { return ident.UserID(fmt.Sprintf("%s%d", SlotPrefix, slot)) }

// Claim puts p in the account's first free slot that skip (nil: none)
// does not rule out; ok is false when every slot is taken.
func (l *Lot) Claim(account ident.AccountID, p Parked, skip func(slot int) bool) (slot int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for s := l.first; s <= l.last; s++ {
		k := slotKey{account, s}
		if _, busy := l.taken[k]; busy || skip != nil && skip(s) {
			continue
		}
		l.taken[k] = p
		l.notifyLocked(k, "")
		return s, true
	}
	return 0, false
}

// Take empties the slot for a pickup and returns what it held; ok is
// false for an empty slot.
func (l *Lot) Take(account ident.AccountID, slot int) (Parked, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := slotKey{account, slot}
	p, ok := l.taken[k]
	if ok {
		delete(l.taken, k)
		l.notifyLocked(k, p.Call)
	}
	return p, ok
}

// Release empties the slot if it still holds call (a park that timed out
// or whose caller hung up); it reports whether it did.
func (l *Lot) Release(account ident.AccountID, slot int, call ident.CallID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := slotKey{account, slot}
	if p, ok := l.taken[k]; !ok || p.Call != call {
		return false
	}
	delete(l.taken, k)
	l.notifyLocked(k, call)
	return true
}

// Busy lists the account's taken slots.
func (l *Lot) Busy(account ident.AccountID) map[int]Parked {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[int]Parked{}
	for k, p := range l.taken {
		if k.account == account {
			out[k.slot] = p
		}
	}
	return out
}

// Watch implements presence.Source for slot ids ("park.701"): on_call
// while a call is parked there (one confirmed dialog), else available. A
// slot that empties is reported once with its dialog terminated.
func (l *Lot) Watch(account ident.AccountID, user ident.UserID, fn func(presence.State)) (presence.State, func(), error) {
	slot, ok := l.SlotOfID(user)
	if !ok || account == "" {
		return presence.State{}, nil, presence.ErrUnavailable
	}
	k := slotKey{account, slot}
	w := &watch{fn: fn}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.watchers[k] = append(l.watchers[k], w)
	cancel := func() {
		if w.cancelled.Swap(true) {
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		ws := l.watchers[k]
		for i, o := range ws {
			if o == w {
				l.watchers[k] = append(ws[:i:i], ws[i+1:]...)
				break
			}
		}
		if len(l.watchers[k]) == 0 {
			delete(l.watchers, k)
		}
	}
	return l.stateLocked(k, ""), cancel, nil
}

// stateLocked is the slot's presence; ended names the call that just
// left it (reported terminated).
func (l *Lot) stateLocked(k slotKey, ended ident.CallID) presence.State {
	ext := strconv.Itoa(k.slot)
	st := presence.State{User: ID(k.slot), Account: k.account, Name: "Park " + ext, Extension: ext,
		Status: presence.Available, UpdatedAt: l.changed[k]}
	if st.UpdatedAt.IsZero() {
		st.UpdatedAt = time.Now().UTC()
	}
	if p, ok := l.taken[k]; ok {
		st.Status = presence.OnCall
		st.Dialogs = []presence.Dialog{{ID: string(p.Call), State: presence.DialogConfirmed, Remote: p.From}}
	} else if ended != "" {
		st.Dialogs = []presence.Dialog{{ID: string(ended), State: presence.DialogTerminated}}
	}
	return st
}

// notifyLocked tells the slot's watchers of its change; ended is the
// call that left it, if one did.
func (l *Lot) notifyLocked(k slotKey, ended ident.CallID) {
	l.changed[k] = time.Now().UTC()
	ws := l.watchers[k]
	if len(ws) == 0 {
		return
	}
	st := l.stateLocked(k, ended)
	for _, w := range ws {
		if !w.cancelled.Load() {
			w.fn(st)
		}
	}
}
