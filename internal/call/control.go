package call

import (
	"context"
	"time"

	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// connected reports whether the parties' media is bridged.
func (c *Call) connected() bool { return c.state == StateActive || c.state == StateHeld }

// other returns the party across the bridge from l.
func (c *Call) other(l *leg) *leg {
	if l == c.caller {
		return c.winner
	}
	return c.caller
}

func (c *Call) onHold(l *leg) {
	switch {
	case !c.connected() || c.winner == nil:
		l.party.Refused(protocol.CodeInvalidMessage, "call.hold: the call is not active")
	case l.holding:
		l.party.Refused(protocol.CodeInvalidMessage, "call.hold: the call is already on hold from this side")
	default:
		l.holding = true
		if c.state == StateActive {
			c.setState(StateHeld)
		}
		c.applyFeeds()
		l.party.Held(protocol.HeldLocal)
		c.other(l).party.Held(protocol.HeldRemote)
	}
}

func (c *Call) onResume(l *leg) {
	if !c.connected() || !l.holding || c.winner == nil {
		l.party.Refused(protocol.CodeInvalidMessage, "call.resume: the call is not on hold from this side")
		return
	}
	l.holding = false
	if !c.other(l).holding {
		c.setState(StateActive)
	}
	c.applyFeeds()
	l.party.Resumed()
	c.other(l).party.Resumed()
}

// onMute records the party's mute; it takes effect at once when bridged and
// at the answer otherwise. Repeating the current state is harmless.
func (c *Call) onMute(l *leg, on bool) {
	l.muted = on
	c.applyFeeds()
}

// onDigit plays an out-of-band digit from l to the other party, when the
// call is connected (the bridge's first leg is the caller).
func (c *Call) onDigit(l *leg, digit rune, duration time.Duration) {
	if !c.connected() || c.bridge == nil || c.winner == nil || (l != c.caller && l != c.winner) {
		return
	}
	if err := c.bridge.SendDigit(c.other(l) == c.caller, digit, duration); err != nil {
		c.m.log.Debug("dtmf digit dropped", "call_id", c.id, "digit", string(digit), "err", err)
	}
}

// applyFeeds tells the bridge what each party hears.
func (c *Call) applyFeeds() {
	if c.bridge == nil || c.winner == nil {
		return
	}
	c.bridge.SetFeeds(feedFor(c.caller, c.winner), feedFor(c.winner, c.caller))
}

// feedFor is what listener hears from talker.
func feedFor(listener, talker *leg) Feed {
	switch {
	case talker.holding:
		return FeedMusic
	case listener.holding, talker.muted:
		return FeedSilence
	}
	return FeedForward
}

// restore tells the party with key the state of the call after its
// session resumed.
func (c *Call) restore(key string) {
	if !c.restorable(key) {
		return
	}
	l := c.legOf(key)
	m := &protocol.CallRestored{CallID: string(c.id), From: c.rec.From, FromName: c.rec.FromName,
		To: c.create.Destination, Direction: protocol.DirectionOutbound, State: protocol.StateRinging,
		Muted: l.muted}
	if l.role == roleCallee {
		m.Direction = protocol.DirectionInbound
	}
	switch {
	case c.xfer != nil: // waiting for a transfer's target: still a connected call to this party
		m.State = protocol.StateActive
	case c.state == StateHeld && l.holding:
		m.State, m.HeldBy = protocol.StateHeld, protocol.HeldLocal
	case c.state == StateHeld:
		m.State, m.HeldBy = protocol.StateHeld, protocol.HeldRemote
	case c.connected():
		m.State = protocol.StateActive
	}
	if !c.answeredAt.IsZero() {
		at := c.answeredAt.UTC().Format(time.RFC3339)
		m.AnsweredAt = &at
	}
	l.party.Restored(m)
}

// restorable reports whether the party with key has a live part in the
// call: its caller, or a callee that was alerted.
func (c *Call) restorable(key string) bool {
	l := c.legOf(key)
	return l != nil && c.state != StateEnded && (l == c.caller || l.alerted)
}

// reofferFrom answers a party's new offer (a SIP re-INVITE) and applies the
// hold it implies.
func (c *Call) reofferFrom(l *leg, offer string, hold bool, answer func(string, error)) {
	c.async(func() func() {
		ctx, cancel := context.WithTimeout(c.ctx, c.m.opt.MediaTimeout)
		defer cancel()
		sdp, err := l.media.Reoffer(ctx, offer)
		return func() {
			answer(sdp, err)
			if err != nil || !c.connected() {
				return
			}
			switch {
			case hold && !l.holding:
				c.onHold(l)
			case !hold && l.holding:
				c.onResume(l)
			}
		}
	})
}
