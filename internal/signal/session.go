package signal

import (
	"net/netip"
	"sync"
	"time"

	"github.com/switchboard-voice/switchboard/internal/auth"
	"github.com/switchboard-voice/switchboard/internal/emergency"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// maxBacklog bounds the call.ended frames a session keeps for replay.
const maxBacklog = 64

// Session is one device session: a socket and its reconnects. The call layer
// sends to it without caring whether the socket is up right now.
type Session struct {
	ID        ident.SessionID
	UserID    ident.UserID
	AccountID ident.AccountID

	hub *Hub

	mu    sync.Mutex
	conn  *conn
	ended bool
	grace *time.Timer
	// presence holds the session's presence subscriptions, once it has any.
	presence *watchSet
	// endings holds recent call.ended frames. A socket can die before the
	// server notices, swallowing what was sent into it, so a resumed
	// session gets every ending of the grace period again (clients ignore
	// the end of a call they already closed).
	endings []ending
	// location is the emergency address bound for the current socket's
	// network (emergency.go).
	location *emergency.Location
	// lastSource and userAgent are the source address and User-Agent of
	// the latest socket, startedAt when the session began (devices.go).
	lastSource netip.Addr
	userAgent  string
	startedAt  time.Time
	// missed holds the other frames sent while the socket was down (at
	// most maxBacklog), for a client that resumes without session_id: it
	// gets no call.restored, so it needs them (the answer of a call that
	// rang meanwhile, a hold). A resume by session_id drops them.
	missed [][]byte
}

type ending struct {
	at    time.Time
	frame []byte
}

func newSession(h *Hub, id auth.Identity) *Session {
	return &Session{ID: ident.NewSessionID(), UserID: id.UserID, AccountID: id.AccountID, hub: h, startedAt: time.Now()}
}

// Send queues msg for the device. Of the frames sent while the socket is
// down only call.ended matters after a reconnect (call.restored sums up the
// live calls); those are kept for replay. Send never blocks.
func (s *Session) Send(msg protocol.Message) {
	if msg.MessageType() == protocol.TypeCallQuality {
		s.sendQuality(msg)
		return
	}
	frame, err := protocol.Encode(msg)
	if err != nil {
		s.hub.log.Error("encode frame", "type", msg.MessageType(), "err", err)
		return
	}
	s.mu.Lock()
	c := s.conn
	if !s.ended && msg.MessageType() == protocol.TypeCallEnded {
		if len(s.endings) == maxBacklog {
			s.endings = s.endings[1:]
		}
		s.endings = append(s.endings, ending{at: time.Now(), frame: frame})
	}
	if !s.ended && c == nil && msg.MessageType() != protocol.TypeCallEnded && len(s.missed) < maxBacklog {
		s.missed = append(s.missed, frame)
	}
	s.mu.Unlock()
	if c != nil {
		c.enqueue(frame)
	}
}

// Connected reports whether the session has a socket right now.
func (s *Session) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != nil
}

// bind attaches c, stops any grace timer and returns the socket it replaced.
func (s *Session) bind(c *conn) (old *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bindLocked(c)
}

func (s *Session) bindLocked(c *conn) (old *conn) {
	old, s.conn, s.lastSource, s.userAgent = s.conn, c, c.remote, c.userAgent
	s.missed = nil // call.restored sums them up
	if s.grace != nil {
		s.grace.Stop()
		s.grace = nil
	}
	c.setSession(s)
	return old
}

// swap binds c in place of old when old is still the session's socket
// and the session has not ended (a take-over races a hand-over to another
// node); it reports whether it did.
func (s *Session) swap(old, c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || s.conn != old {
		return false
	}
	s.bindLocked(c)
	return true
}

// claim binds c when the session has no socket and has not ended; it
// reports whether it did.
func (s *Session) claim(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil || s.ended {
		return false
	}
	s.conn, s.lastSource, s.userAgent = c, c.remote, c.userAgent
	if s.grace != nil {
		s.grace.Stop()
		s.grace = nil
	}
	c.setSession(s)
	return true
}

// replayMissed sends the frames kept while the socket was down.
func (s *Session) replayMissed() {
	s.mu.Lock()
	c, frames := s.conn, s.missed
	s.missed = nil
	s.mu.Unlock()
	for _, f := range frames {
		if c != nil {
			c.enqueue(f)
		}
	}
}

// replayEndings sends the call.ended frames of the last grace period.
func (s *Session) replayEndings(grace time.Duration) {
	s.mu.Lock()
	c := s.conn
	var frames [][]byte
	for _, e := range s.endings {
		if time.Since(e.at) <= grace {
			frames = append(frames, e.frame)
		}
	}
	s.mu.Unlock()
	for _, f := range frames {
		if c != nil {
			c.enqueue(f)
		}
	}
}

// letGo ends the session for a hand-over to another node when its socket
// is still expect (nil: none), returning the call.ended frames of the
// last grace period and the frames kept while the socket was down.
func (s *Session) letGo(expect *conn, grace time.Duration) (endings, missed [][]byte, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || s.conn != expect {
		return nil, nil, false
	}
	for _, e := range s.endings {
		if time.Since(e.at) <= grace {
			endings = append(endings, e.frame)
		}
	}
	missed = s.missed
	return endings, missed, s.markEndedLocked()
}

// unbind detaches c if it is still the session's socket.
func (s *Session) unbind(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != c {
		return false
	}
	s.conn = nil
	return true
}

func (s *Session) watchSet() *watchSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.presence
}

// room is how many more frames may be queued to the socket while half its
// queue stays free for call frames; -1 when there is no socket.
func (s *Session) room() int {
	c := s.currentConn()
	if c == nil {
		return -1
	}
	return max(cap(c.out)/2-len(c.out), 0)
}

func (s *Session) currentConn() *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

func (s *Session) startGrace(d time.Duration, expire func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || s.conn != nil {
		return
	}
	if s.grace != nil {
		s.grace.Stop()
	}
	s.grace = time.AfterFunc(d, expire)
}

// markEnded flips the session to ended once; it reports whether this call did.
func (s *Session) markEnded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.markEndedLocked()
}

func (s *Session) markEndedLocked() bool {
	if s.ended {
		return false
	}
	s.ended = true
	s.missed = nil
	if s.grace != nil {
		s.grace.Stop()
		s.grace = nil
	}
	s.endings = nil
	return true
}

func (s *Session) isEnded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

// SessionID returns the device session id.
func (s *Session) SessionID() ident.SessionID { return s.ID }

// User returns the session's user.
func (s *Session) User() ident.UserID { return s.UserID }

// Account returns the session's account.
func (s *Session) Account() ident.AccountID { return s.AccountID }
