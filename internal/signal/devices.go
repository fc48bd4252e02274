package signal

import (
	"net/netip"

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
