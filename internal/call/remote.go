package call

import (
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

// remote is a call's Remote: SIP parties post through it. Its reports run
// in whichever actor owns the party's leg by then (a transfer may have
// joined the leg into another call).
type remote struct{ c *Call }

func (r remote) post(key string, fn func(c *Call, l *leg)) {
	r.c.post(event{on: func(c *Call) {
		if l := c.legOf(key); l != nil && c.state != StateEnded {
			fn(c, l)
		}
	}})
}

func (r remote) Answered(key, sdp string) {
	r.post(key, func(c *Call, l *leg) {
		c.onAnswer(l)
		c.onSDPAnswer(l, sdp)
	})
}

func (r remote) Rejected(key string, busy bool) {
	r.post(key, func(c *Call, l *leg) { c.onReject(l, busy) })
}

func (r remote) Failed(key string, reason EndReason) {
	r.post(key, func(c *Call, l *leg) {
		if c.conferencing() {
			c.leave(l, EndFailed, "")
			return
		}
		if l == c.caller || l == c.winner {
			c.end(EndFailed)
			return
		}
		if reason != "" {
			c.round.failure = reason
		}
		c.dropCallee(l, "")
	})
}

func (r remote) Ringing(key string) {
	r.post(key, func(c *Call, l *leg) {
		if l != c.caller && l.alerted {
			c.notifyRinging()
		}
	})
}

func (r remote) EarlyMedia(key, sdp string) {
	r.post(key, func(c *Call, l *leg) { c.earlyMedia(l, sdp) })
}

func (r remote) HungUp(key string) { r.post(key, func(c *Call, l *leg) { c.onHangup(l) }) }

func (r remote) Reoffered(key, sdp string, hold bool, answer func(string, error)) {
	r.c.post(event{on: func(c *Call) {
		l := c.legOf(key)
		if l == nil || c.state == StateEnded {
			answer("", ErrNotFound)
			return
		}
		c.reofferFrom(l, sdp, hold, answer)
	}})
}

func (r remote) Digit(key string, digit rune, duration time.Duration) {
	r.post(key, func(c *Call, l *leg) { c.onDigit(l, digit, duration) })
}

func (r remote) Transfer(key, destination, replaces string, done func(error)) {
	r.c.post(event{on: func(c *Call) {
		l := c.legOf(key)
		if l == nil || c.state == StateEnded {
			done(ErrNotFound)
			return
		}
		if replaces == "" {
			c.onTransfer(l, destination, done)
			return
		}
		c.joinReplaced(l, replaces, done)
	}})
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
		return nil, "", &Error{Code: CodeFailed, Reason: EndFailed, Msg: errDraining}
	}
	if err := m.placeAllowed(p); err != nil {
		m.mu.Unlock()
		return nil, "", err
	}
	c := newCallFrom(m, party, p)
	m.calls[c.id] = c
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		defer m.lim.done(c.account)
		c.run()
	}()
	return remote{c}, c.id, nil
}
