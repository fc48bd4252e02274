// Package park owns the park slots of each account: which slot holds
// which parked call, the first free slot for a new park, and the slots'
// presence (busy or idle) for browsers (presence.subscribe "park.701")
// and desk phones' BLF keys (SUBSCRIBE to 701).
//
// A single node keeps its slots in memory. In a cluster the slots are the
// account's across every node (SetShared): a claim is also a
// create-if-absent entry in the cluster (one per account and slot, which
// expires with the node that holds the parked call), the other nodes'
// claims are mirrored here (Remote) for the first free slot and presence,
// and Owner names the node a pickup of a slot held elsewhere is handed
// to. The parked call itself stays on the node that parked it. The call
// layer (internal/call/park.go) decides what parking means for a call;
// this package only keeps the table.
package park

import (
	"errors"
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

// Errors of TryClaim.
var (
	// ErrFull: every slot of the account is taken.
	ErrFull = errors.New("park: every slot of the account is taken")
	// ErrTaken is what a Shared claim returns for a slot another node
	// holds.
	ErrTaken = errors.New("park: slot taken in the cluster")
)

// Shared is the cluster's table of slots (cluster mode). Claim is
// create-if-absent (ErrTaken when another call holds the slot); Release
// empties the slot if it still holds call. Both may block briefly (a
// round trip to the cluster).
type Shared interface {
	Claim(account ident.AccountID, slot int, p Parked) error
	Release(account ident.AccountID, slot int, call ident.CallID)
}

// Lot is every account's slots as this node sees them. It is safe for concurrent
// use; watchers are called under its lock (so each sees the slot's
// changes in order): they must not block nor call back into the Lot.
type Lot struct {
	first, last int

	shared Shared // nil: this node alone
	self   string // this node's id in the cluster

	mu       sync.Mutex
	taken    map[slotKey]Parked // parked on this node
	pending  map[slotKey]bool   // being claimed in the cluster
	remote   map[slotKey]held   // parked on other nodes (Remote)
	watchers map[slotKey][]*watch
	changed  map[slotKey]time.Time
}

// held is a slot another node holds.
type held struct {
	node string
	p    Parked
	seen time.Time // its claim's last refresh seen (Remote)
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
	return &Lot{first: first, last: last, taken: map[slotKey]Parked{}, pending: map[slotKey]bool{},
		remote: map[slotKey]held{}, watchers: map[slotKey][]*watch{}, changed: map[slotKey]time.Time{}}
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

// SetShared makes the slots the cluster's (before use): self is this
// node's id, s the cluster's table.
func (l *Lot) SetShared(self string, s Shared) { l.self, l.shared = self, s }

// Claim puts p in the account's first free slot that skip (nil: none)
// does not rule out; ok is false when no slot could be claimed.
func (l *Lot) Claim(account ident.AccountID, p Parked, skip func(slot int) bool) (slot int, ok bool) {
	slot, err := l.TryClaim(account, p, skip)
	return slot, err == nil
}

// TryClaim puts p in the account's first free slot that skip (nil: none)
// does not rule out, free on every node of a cluster. It fails with
// ErrFull when every slot is taken, or with the cluster's error.
func (l *Lot) TryClaim(account ident.AccountID, p Parked, skip func(slot int) bool) (int, error) {
	tried := map[int]bool{}
	for {
		k, ok := l.nextFree(account, p, skip, tried)
		if !ok {
			return 0, ErrFull
		}
		if l.shared == nil {
			return k.slot, nil // nextFree took it
		}
		err := l.shared.Claim(account, k.slot, p)
		l.mu.Lock()
		delete(l.pending, k)
		if err == nil {
			l.taken[k] = p
			l.notifyLocked(k, "")
		}
		l.mu.Unlock()
		switch {
		case err == nil:
			return k.slot, nil
		case !errors.Is(err, ErrTaken):
			return 0, err
		}
		tried[k.slot] = true // another node won it: the next one
	}
}

// nextFree finds the account's first free slot not in tried: a single
// node takes it at once, a cluster node marks it pending.
func (l *Lot) nextFree(account ident.AccountID, p Parked, skip func(int) bool, tried map[int]bool) (slotKey, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for s := l.first; s <= l.last; s++ {
		k := slotKey{account, s}
		if l.busyLocked(k) || l.pending[k] || tried[s] || skip != nil && skip(s) {
			continue
		}
		if l.shared == nil {
			l.taken[k] = p
			l.notifyLocked(k, "")
			return k, true
		}
		l.pending[k] = true
		return k, true
	}
	return slotKey{}, false
}

func (l *Lot) busyLocked(k slotKey) bool {
	_, here := l.taken[k]
	_, there := l.remote[k]
	return here || there
}

// Take empties the slot for a pickup and returns what it held; ok is
// false for a slot empty on this node (one another node holds is handed
// to it: Owner).
func (l *Lot) Take(account ident.AccountID, slot int) (Parked, bool) {
	l.mu.Lock()
	k := slotKey{account, slot}
	p, ok := l.taken[k]
	if ok {
		delete(l.taken, k)
		l.notifyLocked(k, p.Call)
	}
	l.mu.Unlock()
	if ok && l.shared != nil {
		l.shared.Release(account, slot, p.Call)
	}
	return p, ok
}

// Release empties the slot if it still holds call (a park that timed out
// or whose caller hung up); it reports whether it did.
func (l *Lot) Release(account ident.AccountID, slot int, call ident.CallID) bool {
	l.mu.Lock()
	k := slotKey{account, slot}
	p, ok := l.taken[k]
	ok = ok && p.Call == call
	if ok {
		delete(l.taken, k)
		l.notifyLocked(k, call)
	}
	l.mu.Unlock()
	if ok && l.shared != nil {
		l.shared.Release(account, slot, call)
	}
	return ok
}

// Busy lists the account's taken slots, on every node of a cluster.
func (l *Lot) Busy(account ident.AccountID) map[int]Parked {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[int]Parked{}
	for k, h := range l.remote {
		if k.account == account {
			out[k.slot] = h.p
		}
	}
	for k, p := range l.taken {
		if k.account == account {
			out[k.slot] = p
		}
	}
	return out
}

// Here reports whether a call is parked in the account's slot on this
// node.
func (l *Lot) Here(account ident.AccountID, slot int) bool {
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.taken[slotKey{account, slot}]
	return ok
}

// Owner is the node that holds the account's slot when another node of
// the cluster does ("" when it is empty or parked here).
func (l *Lot) Owner(account ident.AccountID, slot int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := slotKey{account, slot}
	if _, here := l.taken[k]; here {
		return ""
	}
	return l.remote[k].node
}

// Remote mirrors another node's claim of a slot (gone: it left the slot).
// This node's own claims are ignored (it knows them first).
func (l *Lot) Remote(node string, account ident.AccountID, slot int, p Parked, gone bool) {
	if node == l.self || slot < l.first || slot > l.last {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	k := slotKey{account, slot}
	cur, had := l.remote[k]
	switch {
	case gone && had && cur.node == node && cur.p.Call == p.Call:
		delete(l.remote, k)
		l.notifyLocked(k, p.Call)
	case !gone && (!had || cur.node != node || cur.p != p):
		l.remote[k] = held{node: node, p: p, seen: time.Now()}
		l.notifyLocked(k, "")
	case !gone:
		cur.seen = time.Now() // a refresh: the claim lives
		l.remote[k] = cur
	}
}

// Expire forgets the other nodes' claims not refreshed for ttl: the
// cluster's entries expire unannounced, so a claim whose delete was lost
// (a node cut off from the cluster, a failed release) would otherwise
// show a slot busy, and send its pickups to a node without the call,
// until that node left.
func (l *Lot) Expire(ttl time.Duration) {
	cut := time.Now().Add(-ttl)
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, h := range l.remote {
		if h.seen.Before(cut) {
			delete(l.remote, k)
			l.notifyLocked(k, h.p.Call)
		}
	}
}

// DropNode forgets every claim of a node that left the cluster (its
// parked calls ended with it).
func (l *Lot) DropNode(node string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, h := range l.remote {
		if h.node == node {
			delete(l.remote, k)
			l.notifyLocked(k, h.p.Call)
		}
	}
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
	p, ok := l.taken[k]
	if !ok {
		h, there := l.remote[k]
		p, ok = h.p, there
	}
	if ok {
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
