package call

import (
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// remote is a call's Remote: SIP parties post through it.
type remote struct{ c *Call }

func (r remote) post(key string, fn func(l *leg)) {
	r.c.post(event{fn: func() {
		if l := r.c.legOf(key); l != nil && r.c.state != StateEnded {
			fn(l)
		}
	}})
}

func (r remote) Answered(key, sdp string) {
	r.post(key, func(l *leg) {
		r.c.onAnswer(l)
		r.c.onSDPAnswer(l, sdp)
	})
}

func (r remote) Rejected(key string, busy bool) {
	reason := protocol.RejectDecline
	if busy {
		reason = protocol.RejectBusy
	}
	r.post(key, func(l *leg) { r.c.onReject(l, reason) })
}

func (r remote) Failed(key string, reason protocol.EndReason) {
	r.post(key, func(l *leg) {
		if l == r.c.caller || l == r.c.winner {
			r.c.end(protocol.EndFailed)
			return
		}
		if reason != "" {
			r.c.failure = reason
		}
		r.c.dropCallee(l, "")
	})
}

func (r remote) Ringing(key string) {
	r.post(key, func(l *leg) {
		if l.role == roleCallee && l.alerted {
			r.c.notifyRinging()
		}
	})
}

func (r remote) EarlyMedia(key, sdp string) { r.post(key, func(l *leg) { r.c.earlyMedia(l, sdp) }) }

func (r remote) HungUp(key string) { r.post(key, r.c.onHangup) }

func (r remote) Reoffered(key, sdp string, hold bool, answer func(string, error)) {
	r.c.post(event{fn: func() {
		l := r.c.legOf(key)
		if l == nil || r.c.state == StateEnded {
			answer("", ErrNotFound)
			return
		}
		r.c.reofferFrom(l, sdp, hold, answer)
	}})
}

func (r remote) Digit(key string, digit rune, duration time.Duration) {
	r.post(key, func(l *leg) { r.c.onDigit(l, digit, duration) })
}

// Placement is a call placed by a party that is not a device session.
type Placement struct {
	Account     ident.AccountID
	User        ident.UserID // empty for calls from a trunk
	Destination string
	SDP         string
	// Inbound marks a call that came in from a trunk: it reaches the
	// account's own numbers only, never another trunk. From and FromName
	// describe its caller (there is no user).
	Inbound        bool
	From, FromName string
}

// Place starts a call from party (a SIP phone). It returns the Remote the
// party reports through, or an error when the server is stopping.
func (m *Manager) Place(party Party, p Placement) (Remote, ident.CallID, error) {
	m.mu.Lock()
	if m.draining {
		m.mu.Unlock()
		return nil, "", &Error{Code: protocol.CodeCallFailed, Reason: protocol.EndFailed, Msg: "server is shutting down"}
	}
	c := newCallFrom(m, party, p)
	m.calls[c.id] = c
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		c.run()
	}()
	return remote{c}, c.id, nil
}
