package signal

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/presence"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// Presence is what the hub needs of the presence service: watching users
// for presence.subscribe, and hearing of device sessions (a session counts
// as a device from its first socket until it ends, its reconnect grace
// included, so a flapping network does not flap the user's status).
type Presence interface {
	presence.Source
	DeviceUp(user ident.UserID, device string)
	DeviceDown(user ident.UserID, device string)
}

// MaxWatched bounds the users one session watches, all its
// presence.subscribe frames together.
const MaxWatched = 1000

// presenceRetry is how soon updates held back by a full socket queue are
// tried again.
const presenceRetry = 20 * time.Millisecond

// SetPresence installs the presence service (before serving).
func (h *Hub) SetPresence(p Presence) {
	h.mu.Lock()
	h.presence = p
	h.mu.Unlock()
}

func (h *Hub) getPresence() Presence {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.presence
}

// watchSet is one session's presence subscriptions. The hub's notifier
// puts states in box (never blocking); the set's own goroutine sends them
// as presence.update frames while the socket's queue has room, so a flood
// of changes neither overflows the queue nor delays call frames: a user's
// state still waiting is replaced by a newer one.
type watchSet struct {
	s   *Session
	src presence.Source
	box *presence.Mailbox
	// lim bounds presence.subscribe frames (each may look up 100 users in
	// the store): subscribeBurst at once, then subscribeRate a second.
	lim *rate.Limiter

	// sendMu orders frames: a subscribe's presence.list goes out before
	// any update of the users it introduces.
	sendMu sync.Mutex

	mu      sync.Mutex
	cancels map[ident.UserID]func()
	last    map[ident.UserID]presence.State // the latest state queued per user
	closed  bool
	stop    chan struct{}
}

// presenceSubscribe answers presence.subscribe: presence.list with the
// users it may watch, then a presence_unavailable error naming the others.
func (h *Hub) presenceSubscribe(s *Session, m *protocol.PresenceSubscribe) {
	p := h.getPresence()
	var ws *watchSet
	if p != nil {
		ws = s.watches(h, p)
	}
	if ws == nil {
		s.Send(&protocol.Error{Code: protocol.CodePresenceUnavailable, ReqID: m.ReqID,
			Message: "presence is not available on this server", Context: map[string]any{"users": m.Users}})
		return
	}
	if !ws.lim.Allow() {
		s.Send(&protocol.Error{Code: protocol.CodeRateLimited, ReqID: m.ReqID,
			Message: "presence.subscribe: too many subscribes; send more users per frame, less often",
			Context: map[string]any{"limit": "presence", "retry_after_ms": 1000 / subscribeRate}})
		return
	}
	ws.subscribe(m)
}

// A socket may send subscribeBurst presence.subscribe frames at once (a
// softphone watching its whole directory sends one per 100 users), then
// subscribeRate a second.
const (
	subscribeBurst = 20
	subscribeRate  = 2
)

// watches returns the session's watch set, starting it on first use; nil
// once the session or the hub is over.
func (s *Session) watches(h *Hub, p Presence) *watchSet {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return nil
	}
	ws := s.presence
	fresh := ws == nil
	if fresh {
		ws = &watchSet{s: s, src: p, box: presence.NewMailbox(), cancels: map[ident.UserID]func(){},
			lim:  rate.NewLimiter(subscribeRate, subscribeBurst),
			last: map[ident.UserID]presence.State{}, stop: make(chan struct{})}
		s.presence = ws
	}
	s.mu.Unlock()
	if fresh && !h.track(ws.run) {
		ws.close()
		return nil
	}
	return ws
}

// track runs fn on a goroutine Shutdown waits for, unless the hub is
// shutting down.
func (h *Hub) track(fn func()) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.draining {
		return false
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		fn()
	}()
	return true
}

func (ws *watchSet) subscribe(m *protocol.PresenceSubscribe) {
	ws.sendMu.Lock()
	defer ws.sendMu.Unlock()
	list := &protocol.PresenceList{ReqID: m.ReqID, Users: make([]protocol.PresenceEntry, 0, len(m.Users))}
	var unavailable, over []string
	seen := make(map[ident.UserID]bool, len(m.Users))
	for _, id := range m.Users {
		user := ident.UserID(id)
		if seen[user] {
			continue
		}
		seen[user] = true
		st, err := ws.watch(user)
		switch {
		case errors.Is(err, errTooMany):
			over = append(over, id)
		case errors.Is(err, errClosed):
			return
		case err != nil:
			if !errors.Is(err, presence.ErrUnavailable) {
				ws.s.hub.log.Warn("presence: watch", "user", user, "err", err)
			}
			unavailable = append(unavailable, id)
		default:
			list.Users = append(list.Users, entryOf(st))
		}
	}
	ws.s.Send(list)
	if len(unavailable) > 0 {
		ws.s.Send(&protocol.Error{Code: protocol.CodePresenceUnavailable, ReqID: m.ReqID,
			Message: "unknown users, or users of another account", Context: map[string]any{"users": unavailable}})
	}
	if len(over) > 0 {
		ws.s.Send(&protocol.Error{Code: protocol.CodePresenceUnavailable, ReqID: m.ReqID,
			Message: fmt.Sprintf("a session watches at most %d users", MaxWatched), Context: map[string]any{"users": over}})
	}
}

var (
	errTooMany = errors.New("too many users watched")
	errClosed  = errors.New("session over")
)

// watch starts watching user, unless the set already does; it returns the
// user's latest state.
func (ws *watchSet) watch(user ident.UserID) (presence.State, error) {
	ws.mu.Lock()
	_, watched := ws.cancels[user]
	st, n, closed := ws.last[user], len(ws.cancels), ws.closed
	ws.mu.Unlock()
	switch {
	case closed:
		return st, errClosed
	case watched:
		return st, nil
	case n >= MaxWatched:
		return st, errTooMany
	}
	cur, cancel, err := ws.src.Watch(ws.s.AccountID, user, ws.changed)
	if err != nil {
		return cur, err
	}
	ws.mu.Lock()
	if ws.closed {
		// Cancelled without ws.mu: a source calls changed (which takes
		// ws.mu) under its own lock, and cancel takes that lock.
		ws.mu.Unlock()
		cancel()
		return cur, errClosed
	}
	defer ws.mu.Unlock()
	ws.cancels[user] = cancel
	if last, ok := ws.last[user]; ok { // a change came in the meantime: newer
		return last, nil
	}
	ws.last[user] = cur
	return cur, nil
}

// changed runs on the presence notifier: it queues st unless the session
// was already told the same (a change of a call's dialog only matters to
// desk phones).
func (ws *watchSet) changed(st presence.State) {
	ws.mu.Lock()
	last, ok := ws.last[st.User]
	if ws.closed || (ok && entryOf(last) == entryOf(st)) {
		ws.mu.Unlock()
		return
	}
	ws.last[st.User] = st
	ws.mu.Unlock()
	ws.box.Put(st)
}

// run sends queued updates until the session ends.
func (ws *watchSet) run() {
	for {
		select {
		case <-ws.stop:
			return
		case <-ws.box.Ready():
			ws.flush()
		}
	}
}

func (ws *watchSet) flush() {
	ws.sendMu.Lock()
	defer ws.sendMu.Unlock()
	for ws.box.Len() > 0 {
		room := ws.s.room()
		switch {
		case room < 0: // no socket: resent when the session resumes
			ws.box.Take(0)
			return
		case room == 0:
			select {
			case <-ws.stop:
				return
			case <-time.After(presenceRetry):
			}
			continue
		}
		for _, st := range ws.box.Take(room) {
			ws.s.Send(&protocol.PresenceUpdate{PresenceEntry: entryOf(st)})
		}
	}
}

// resend queues every watched user's latest state again: frames sent
// while the socket was down were lost.
func (ws *watchSet) resend() {
	ws.mu.Lock()
	states := make([]presence.State, 0, len(ws.last))
	for _, st := range ws.last {
		states = append(states, st)
	}
	ws.mu.Unlock()
	for _, st := range states {
		ws.box.Put(st)
	}
}

// close cancels every watch and stops the sender; idempotent.
func (ws *watchSet) close() {
	ws.mu.Lock()
	if ws.closed {
		ws.mu.Unlock()
		return
	}
	ws.closed = true
	cancels := ws.cancels
	ws.cancels = nil
	ws.mu.Unlock()
	for _, cancel := range cancels {
		cancel()
	}
	close(ws.stop)
}

func entryOf(st presence.State) protocol.PresenceEntry {
	return protocol.PresenceEntry{UserID: string(st.User), Name: st.Name, Status: protocol.PresenceStatus(st.Status),
		DoNotDisturb: st.DoNotDisturb, StatusText: st.StatusText, UpdatedAt: st.UpdatedAt.UTC().Format(time.RFC3339)}
}
