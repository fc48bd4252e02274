package presence

import (
	"github.com/switchboard-voice/switchboard/internal/store"
	"maps"
	"slices"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

// Share is one node's part in a user's presence: its device sessions, its
// SIP registrations and its live calls of the user. In a cluster each node
// publishes its own share and takes the others' (SetRemote); the hub
// merges them.
type Share struct {
	Devices         int       `json:"devices"`
	RegisteredUntil time.Time `json:"registered_until,omitzero"`
	Dialogs         []Dialog  `json:"dialogs,omitempty"`
}

func (s Share) empty() bool {
	return s.Devices == 0 && s.RegisteredUntil.IsZero() && len(s.Dialogs) == 0
}

// Local is this node's share of a user's presence, with the user's
// account when the hub knows it ("" otherwise) and the ids of the
// device sessions.
type Local struct {
	Account ident.AccountID
	Devices []string
	Share   Share
}

type remoteShare struct {
	share Share
	timer *time.Timer // re-derives the status when the registrations end
}

func (r *remoteShare) stopTimer() {
	if r.timer != nil {
		r.timer.Stop()
	}
}

// LocalShare is this node's own part in user's presence (not the other
// nodes'): what it publishes to them.
func (h *Hub) LocalShare(user ident.UserID) Local {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.users[user]
	if e == nil {
		return Local{}
	}
	l := Local{Account: e.state.Account, Devices: slices.Sorted(maps.Keys(e.devices))}
	l.Share.Devices = len(e.devices)
	if e.regUntil.After(time.Now()) {
		l.Share.RegisteredUntil = e.regUntil
	}
	for _, d := range e.dialogs {
		if d.State != DialogTerminated {
			l.Share.Dialogs = append(l.Share.Dialogs, d)
		}
	}
	slices.SortFunc(l.Share.Dialogs, func(a, b Dialog) int { return cmpString(a.ID, b.ID) })
	return l
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// LocalUsers lists the users this node has a part in (to send again to a
// node that joins).
func (h *Hub) LocalUsers() []ident.UserID {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []ident.UserID
	for id, e := range h.users {
		if len(e.devices) > 0 || !e.regUntil.IsZero() || len(e.dialogs) > 0 {
			out = append(out, id)
		}
	}
	return out
}

// SetRemote takes another node's share of user's presence, replacing the
// one it sent before; an empty share forgets the node's part. Calls the
// node no longer lists are reported terminated once. Watchers hear the
// change; the observer does not (see quietly).
func (h *Hub) SetRemote(node string, user ident.UserID, s Share) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.entryLocked(user)
	h.quietly(e, func() { h.setRemoteLocked(node, user, s) })
}

// RemoteUserChanged is UserChanged for news another node published: its
// watchers hear it, the observer does not (that node's observer did).
func (h *Hub) RemoteUserChanged(u *store.User) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.quietly(h.entryLocked(u.ID), func() { h.userChangedLocked(u) })
}

// quietly applies change, news from another node, to e without the
// observer hearing it: every node learns of every change, and only the
// node where it happened reports it (one webhook event per change, not
// one per node). A change of this node's own that the observer has not
// heard yet stays to be heard, now with the news in it.
func (h *Hub) quietly(e *entry, change func()) {
	pending := e.reported != nil && *e.reported != e.summary()
	change()
	if e.reported != nil && !pending {
		s := e.summary()
		e.reported = &s
	}
}

func (h *Hub) setRemoteLocked(node string, user ident.UserID, s Share) {
	e := h.entryLocked(user)
	old := e.remote[node]
	var oldDialogs []Dialog
	if old != nil {
		oldDialogs = old.share.Dialogs
		old.stopTimer()
	}
	visible := !slices.Equal(oldDialogs, s.Dialogs)
	for _, d := range oldDialogs {
		if _, local := e.dialogs[d.ID]; !local && !slices.ContainsFunc(s.Dialogs, func(n Dialog) bool { return n.ID == d.ID }) {
			d.State = DialogTerminated
			e.dialogs[d.ID] = d // dropped once fanned out, like a local one
		}
	}
	if s.empty() {
		delete(e.remote, node)
	} else {
		if e.remote == nil {
			e.remote = map[string]*remoteShare{}
		}
		r := &remoteShare{share: s}
		if d := time.Until(s.RegisteredUntil); d > 0 && !h.closed {
			r.timer = time.AfterFunc(d, func() { h.expireRemote(user) })
		}
		e.remote[node] = r
	}
	h.recompute(user, e, visible)
}

// DropNode forgets every part node had (it left the cluster or died).
// The node cannot report what its leaving changed, so one of the others
// does: report says whether the observer hears it on this node.
func (h *Hub) DropNode(node string, report bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, e := range h.users {
		if _, ok := e.remote[node]; !ok {
			continue
		}
		if report {
			h.baseline(e)
			h.setRemoteLocked(node, id, Share{})
		} else {
			h.quietly(e, func() { h.setRemoteLocked(node, id, Share{}) })
		}
	}
}

// allDialogs is the user's calls on this node and on the others (a call
// known here wins over another node's report of it).
func (e *entry) allDialogs() map[string]Dialog {
	if len(e.remote) == 0 {
		return e.dialogs
	}
	all := maps.Clone(e.dialogs)
	for _, r := range e.remote {
		for _, d := range r.share.Dialogs {
			if _, ok := all[d.ID]; !ok {
				all[d.ID] = d
			}
		}
	}
	return all
}

// remoteReachable reports whether another node has a device or a live
// registration of the user.
func (e *entry) remoteReachable(now time.Time) bool {
	for _, r := range e.remote {
		if r.share.Devices > 0 || r.share.RegisteredUntil.After(now) {
			return true
		}
	}
	return false
}
