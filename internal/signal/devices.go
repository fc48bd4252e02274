package signal

import (
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

// SessionChange is a device session that started (its first socket was
// authenticated) or ended for good (its reconnect grace ran out, its
// user's sessions were revoked, or the server stopped). Reconnects within
// the grace are not changes.
type SessionChange struct {
	User    ident.UserID
	Account ident.AccountID
	Session ident.SessionID
	Source  netip.Addr // the socket's source address; invalid when unknown
	Up      bool
}

// SessionObserver hears of session changes. It must not block.
type SessionObserver interface {
	SessionChanged(c SessionChange)
}

// SetSessionObserver installs o (before serving).
func (h *Hub) SetSessionObserver(o SessionObserver) {
	h.mu.Lock()
	h.observer = o
	h.mu.Unlock()
}

func (h *Hub) sessionChanged(s *Session, src netip.Addr, up bool) {
	h.mu.Lock()
	o := h.observer
	h.mu.Unlock()
	if o != nil {
		o.SessionChanged(SessionChange{User: s.UserID, Account: s.AccountID, Session: s.ID, Source: src, Up: up})
	}
}

// source is the address of the session's latest socket.
func (s *Session) source() netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastSource
}

// maxUserAgent bounds the User-Agent a session keeps.
const maxUserAgent = 256

// clip cuts a User-Agent to maxUserAgent bytes (at a rune boundary).
func clip(ua string) string {
	if len(ua) <= maxUserAgent {
		return ua
	}
	return strings.ToValidUTF8(ua[:maxUserAgent], "")
}

// Device is a snapshot of a device session for listings
// (GET /v1/users/{id}/devices).
type Device struct {
	Session   ident.SessionID
	UserAgent string     // of the latest socket's upgrade request
	Source    netip.Addr // of the latest socket; invalid when unknown
	StartedAt time.Time  // when the session began
	Connected bool       // false: detached, within its reconnect grace
}

// UserDevices lists the user's sessions, oldest first.
func (h *Hub) UserDevices(user ident.UserID) []Device {
	ss := h.UserSessions(user)
	out := make([]Device, 0, len(ss))
	for _, s := range ss {
		s.mu.Lock()
		out = append(out, Device{Session: s.ID, UserAgent: s.userAgent, Source: s.lastSource,
			StartedAt: s.startedAt, Connected: s.conn != nil})
		s.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StartedAt.Before(out[j].StartedAt) })
	return out
}
