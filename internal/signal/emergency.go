package signal

import (
	"context"
	"net/http"
	"net/netip"
	"time"

	"github.com/switchboard-voice/switchboard/internal/emergency"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// bindTimeout bounds the store work of binding an emergency address; the
// socket's reader waits on it before taking the next frame.
const bindTimeout = 5 * time.Second

// Locator binds the emergency address a socket presents
// (authenticate.emergency_address_id) to the network the socket comes
// from. It returns the location when the address is the user's and is
// bound to ip (it binds an unbound one); nil when it is bound to another
// network or is not the user's; an error when it could not tell.
//
// CurrentLocation re-reads a bound location when a call needs it: nil when
// the address was deleted, unbound or bound to another network since.
type Locator interface {
	BindLocation(ctx context.Context, user ident.UserID, id string, ip netip.Addr) (*emergency.Location, error)
	CurrentLocation(ctx context.Context, user ident.UserID, loc *emergency.Location) (*emergency.Location, error)
}

// SetLocator installs the emergency address binder (before serving).
func (h *Hub) SetLocator(l Locator) {
	h.mu.Lock()
	h.locator = l
	h.mu.Unlock()
}

func (h *Hub) getLocator() Locator {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.locator
}

// EmergencyLocation returns the emergency address bound for the network of
// the session's current socket, or nil. It is read again from the store,
// so an address the user deleted or unbound since the socket bound it is
// never sent with an emergency call; if the store cannot answer, the
// address bound at connect is used (a location beats none).
func (s *Session) EmergencyLocation() *emergency.Location {
	s.mu.Lock()
	loc := s.location
	s.mu.Unlock()
	l := s.hub.getLocator()
	if loc == nil || l == nil {
		return loc
	}
	ctx, cancel := context.WithTimeout(context.Background(), bindTimeout)
	defer cancel()
	cur, err := l.CurrentLocation(ctx, s.UserID, loc)
	if err != nil {
		s.hub.log.Warn("emergency address not re-read: using the one bound at connect", "session_id", s.ID, "err", err)
		return loc
	}
	if cur == nil {
		s.mu.Lock()
		if s.location == loc {
			s.location = nil
		}
		s.mu.Unlock()
		return nil
	}
	cur.Device = loc.Device
	return cur
}

func (s *Session) setLocation(l *emergency.Location) {
	s.mu.Lock()
	s.location = l
	s.mu.Unlock()
}

// bindEmergency runs after authenticated, before the socket's next frame
// is read: every authenticate (a resume too) sets the session's location
// from what it presents, as the network may have changed with the socket.
// A presented address that is not bound here is answered with
// network.changed (never an error: DialStack's SDK would fail its connect
// on an error echoing the authenticate, and the session stays usable —
// emergency calls still go out, without a location).
func (c *conn) bindEmergency(s *Session, id string) {
	s.setLocation(nil)
	if id == "" {
		return
	}
	loc, err := c.locate(s.UserID, id)
	if err != nil {
		// The store could not tell: the network may well be the same, so
		// no network.changed; the session has no address until it reconnects.
		c.hub.log.Warn("emergency address not bound", "user", s.UserID, "session_id", s.ID, "address", id, "err", err)
		return
	}
	if loc == nil {
		c.send(&protocol.NetworkChanged{})
		return
	}
	loc.Device = string(s.ID)
	s.setLocation(loc)
	c.hub.log.Debug("emergency address bound", "session_id", s.ID, "address", id, "ip", c.remote)
}

func (c *conn) locate(user ident.UserID, id string) (*emergency.Location, error) {
	l := c.hub.getLocator()
	if l == nil || !c.remote.IsValid() {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(c.ctx, bindTimeout)
	defer cancel()
	return l.BindLocation(ctx, user, id, c.remote)
}

// remoteIP is the address the request came from: the TCP peer (there is no
// trusted-proxy setting; behind a proxy every device shares its address).
func remoteIP(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
