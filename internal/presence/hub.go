package presence

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// Directory is where the hub reads a user's account, name and the presence
// they set (do not disturb, status text).
type Directory interface {
	GetUser(ctx context.Context, id ident.UserID) (*store.User, error)
}

// lookupTimeout bounds one directory read.
const lookupTimeout = 5 * time.Second

// Hub is the presence Source: it derives each user's status from what the
// device and call layers report, and fans each change out to that user's
// watchers from one notifier goroutine.
//
// Reporting never blocks: it updates the user's entry under a short lock and
// marks the user dirty; the notifier then calls every watcher of that user
// once with the latest state. Changes that come faster than the notifier
// runs are coalesced (the latest state wins), except that a call which ends
// is always delivered as terminated once.
type Hub struct {
	dir     Directory
	log     *slog.Logger
	started time.Time

	mu       sync.Mutex
	observer func(cur State, prev Summary) // observe.go; nil: none
	users    map[ident.UserID]*entry
	dirty    []ident.UserID // users with a change not yet fanned out, in order
	closed   bool

	wake chan struct{} // capacity 1: a fan-out is wanted
	stop chan struct{}
	done chan struct{}
}

// entry is one user's live facts; only the hub's lock guards it.
type entry struct {
	loaded   bool  // account, name, DND and status text read from the directory
	state    State // Dialogs is built from dialogs on snapshot
	devices  map[string]struct{}
	regUntil time.Time
	regTimer *time.Timer
	dialogs  map[string]Dialog // by call id; terminated ones until fanned out
	watchers []*watch          // copy on write: a fan-out reads it without the lock
	dirty    bool
	remote   map[string]*remoteShare // other nodes' parts, by node (remote.go)
	reported *Summary                // what the observer last heard (or the first state it could have); nil: not yet taken
}

type watch struct {
	fn        func(State)
	cancelled atomic.Bool
}

// NewHub returns a hub with its notifier running; Close stops it.
func NewHub(dir Directory, log *slog.Logger) *Hub {
	h := &Hub{dir: dir, log: log, started: time.Now().UTC(), users: map[ident.UserID]*entry{},
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go h.loop()
	return h
}

// Close stops the notifier and the registration timers; watchers hear
// nothing more. It is idempotent.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	for _, e := range h.users {
		if e.regTimer != nil {
			e.regTimer.Stop()
		}
		for _, r := range e.remote {
			r.stopTimer()
		}
	}
	h.mu.Unlock()
	close(h.stop)
	<-h.done
}

// Watch implements Source.
func (h *Hub) Watch(account ident.AccountID, user ident.UserID, fn func(State)) (State, func(), error) {
	acct, err := h.load(user)
	if err != nil {
		return State{}, nil, err
	}
	if acct != account {
		return State{}, nil, ErrUnavailable
	}
	w := &watch{fn: fn}
	h.mu.Lock()
	e := h.entryLocked(user)
	e.watchers = append(slices.Clip(e.watchers), w)
	cur := e.snapshot()
	h.mu.Unlock()
	var once sync.Once
	cancel := func() { once.Do(func() { h.unwatch(user, w) }) }
	return cur, cancel, nil
}

func (h *Hub) unwatch(user ident.UserID, w *watch) {
	w.cancelled.Store(true)
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.users[user]
	if i := slices.Index(e.watchers, w); i >= 0 {
		e.watchers = slices.Delete(slices.Clone(e.watchers), i, i+1)
	}
}

// Get returns user's current state, whatever the account (the admin API);
// ErrUnavailable for a user that does not exist.
func (h *Hub) Get(user ident.UserID) (State, error) {
	if _, err := h.load(user); err != nil {
		return State{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.users[user].snapshot(), nil
}

// load reads user's account, name and set presence from the directory the
// first time the user is watched or read; it returns the account.
func (h *Hub) load(user ident.UserID) (ident.AccountID, error) {
	h.mu.Lock()
	if e := h.users[user]; e != nil && e.loaded {
		acct := e.state.Account
		h.mu.Unlock()
		return acct, nil
	}
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	u, err := h.dir.GetUser(ctx, user)
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrUnavailable
	}
	if err != nil {
		return "", err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.entryLocked(user)
	if !e.loaded {
		e.setInfo(u)
	}
	return e.state.Account, nil
}

// entryLocked returns user's entry, making it (offline since the hub
// started) the first time.
func (h *Hub) entryLocked(user ident.UserID) *entry {
	e := h.users[user]
	if e == nil {
		e = &entry{state: State{User: user, Status: Offline, UpdatedAt: h.started},
			devices: map[string]struct{}{}, dialogs: map[string]Dialog{}}
		h.users[user] = e
	}
	return e
}

func (e *entry) setInfo(u *store.User) {
	e.loaded = true
	e.state.Account, e.state.Name, e.state.Extension = u.AccountID, u.Name, u.Extension
	e.state.DoNotDisturb, e.state.StatusText = u.DoNotDisturb, u.StatusText
}

// snapshot is the entry's state with its dialogs, oldest call id first.
func (e *entry) snapshot() State {
	s := e.state
	s.Dialogs = nil
	if dialogs := e.allDialogs(); len(dialogs) > 0 {
		s.Dialogs = make([]Dialog, 0, len(dialogs))
		for _, d := range dialogs {
			s.Dialogs = append(s.Dialogs, d)
		}
		sort.Slice(s.Dialogs, func(i, j int) bool { return s.Dialogs[i].ID < s.Dialogs[j].ID })
	}
	return s
}

// status derives the summary: on_call wins over available, which wins over
// offline.
func (e *entry) status(now time.Time) Status {
	for _, d := range e.allDialogs() {
		if d.State != DialogTerminated {
			return OnCall
		}
	}
	if len(e.devices) > 0 || e.regUntil.After(now) || e.remoteReachable(now) {
		return Available
	}
	return Offline
}

func (e *entry) dropTerminated() {
	for id, d := range e.dialogs {
		if d.State == DialogTerminated {
			delete(e.dialogs, id)
		}
	}
}

// recompute re-derives user's status (updated_at moves only when it
// changes) and, when that or visible is true, queues a fan-out.
func (h *Hub) recompute(user ident.UserID, e *entry, visible bool) {
	now := time.Now()
	if s := e.status(now); s != e.state.Status {
		e.state.Status, e.state.UpdatedAt = s, now.UTC()
		visible = true
	}
	if visible {
		h.markDirty(user, e)
	}
}

func (h *Hub) markDirty(user ident.UserID, e *entry) {
	if len(e.watchers) == 0 && h.observer == nil {
		e.dropTerminated() // nobody to tell
		return
	}
	if !e.dirty {
		e.dirty = true
		h.dirty = append(h.dirty, user)
	}
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// DeviceUp counts a device session (a WebSocket session, connected or
// within its reconnect grace) of user.
func (h *Hub) DeviceUp(user ident.UserID, device string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.entryLocked(user)
	h.baseline(e)
	e.devices[device] = struct{}{}
	h.recompute(user, e, false)
}

// DeviceDown forgets a device session of user.
func (h *Hub) DeviceDown(user ident.UserID, device string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.users[user]
	if e == nil {
		return
	}
	h.baseline(e)
	delete(e.devices, device)
	h.recompute(user, e, false)
}

// Registered says user's SIP registrations last until until (the latest
// expiry of their live contacts; zero or past: none). The hub re-derives
// the status itself when that time comes.
func (h *Hub) Registered(user ident.UserID, until time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.entryLocked(user)
	h.baseline(e)
	e.regUntil = until
	if e.regTimer != nil {
		e.regTimer.Stop()
		e.regTimer = nil
	}
	if d := time.Until(until); d > 0 && !h.closed {
		e.regTimer = time.AfterFunc(d, func() { h.expire(user) })
	}
	h.recompute(user, e, false)
}

func (h *Hub) expire(user ident.UserID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e := h.users[user]; e != nil {
		h.baseline(e)
		h.recompute(user, e, false)
	}
}

// expireRemote is expire for another node's registration: that node
// reports the lapse (see quietly).
func (h *Hub) expireRemote(user ident.UserID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e := h.users[user]; e != nil {
		h.quietly(e, func() { h.recompute(user, e, false) })
	}
}

// CallChanged reports user's part in one call: early (ringing or placing),
// confirmed (answered), or terminated once it is over for them.
func (h *Hub) CallChanged(user ident.UserID, d Dialog) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.entryLocked(user)
	h.baseline(e)
	old, had := e.dialogs[d.ID]
	switch {
	case d.State == DialogTerminated && !had:
		return // never reported as live
	case had && old == d:
		return
	}
	e.dialogs[d.ID] = d
	h.recompute(user, e, true)
}

// UserChanged takes a user's stored record after an update (name,
// extension, do not disturb, status text): watchers hear of a visible
// change. A change of do not disturb or status text moves updated_at.
func (h *Hub) UserChanged(u *store.User) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.baseline(h.entryLocked(u.ID))
	h.userChangedLocked(u)
}

func (h *Hub) userChangedLocked(u *store.User) {
	e := h.entryLocked(u.ID)
	old := e.state
	wasLoaded := e.loaded
	e.setInfo(u)
	if !wasLoaded {
		if h.observer != nil {
			h.markDirty(u.ID, e) // the observer compares with its baseline
		}
		return // no watcher has seen it: nothing changed for them
	}
	set := old.DoNotDisturb != u.DoNotDisturb || old.StatusText != u.StatusText
	if set {
		e.state.UpdatedAt = time.Now().UTC()
	}
	if set || old.Name != u.Name || old.Extension != u.Extension {
		h.markDirty(u.ID, e)
	}
}

// loop is the notifier: one goroutine, so each watcher hears a user's
// changes in order.
func (h *Hub) loop() {
	defer close(h.done)
	for {
		select {
		case <-h.stop:
			return
		case <-h.wake:
			h.flush()
		}
	}
}

type fanout struct {
	state    State
	watchers []*watch
	observed *Summary // the previous summary, when the observer is to hear state
}

// flush calls every watcher of every dirty user once with its latest
// state; the lock is not held while watchers run.
func (h *Hub) flush() {
	h.mu.Lock()
	users := h.dirty
	h.dirty = nil
	batch := make([]fanout, 0, len(users))
	observer := h.observer
	for _, u := range users {
		e := h.users[u]
		e.dirty = false
		f := fanout{watchers: e.watchers, observed: h.observedLocked(e)}
		if len(e.watchers) > 0 || f.observed != nil {
			f.state = e.snapshot()
			batch = append(batch, f)
		}
		e.dropTerminated()
	}
	h.mu.Unlock()
	for _, f := range batch {
		if f.observed != nil {
			observer(f.state, *f.observed)
		}
		for _, w := range f.watchers {
			if !w.cancelled.Load() {
				w.fn(f.state)
			}
		}
	}
}
