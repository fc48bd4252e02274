package call

import (
	"context"
	"time"
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
	case c.conferencing():
		c.confHold(l, true)
	case !c.connected() || c.winner == nil:
		refuse(l, CodeInvalid, "call.hold: the call is not active")
	case l.holding:
		refuse(l, CodeInvalid, "call.hold: the call is already on hold from this side")
	default:
		l.holding = true
		if c.state == StateActive {
			c.setState(StateHeld)
		}
		c.applyFeeds()
		l.party.Held(HeldLocal)
		c.other(l).party.Held(HeldRemote)
	}
}

func (c *Call) onResume(l *leg) {
	if c.conferencing() {
		c.confHold(l, false)
		return
	}
	if !c.connected() || !l.holding || c.winner == nil {
		refuse(l, CodeInvalid, "call.resume: the call is not on hold from this side")
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
	if c.conferencing() {
		c.confMute(l, on, "")
		return
	}
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
	rec := c.rec.record()
	r := Restored{From: rec.From, FromName: rec.FromName, To: c.create.Destination,
		Inbound: l.role == roleCallee, State: StateRinging, Muted: l.muted, AnsweredAt: c.answeredAt,
		Recording: c.recordingInfo()}
	switch {
	case c.xfer != nil, c.parked != nil: // waiting for a transfer's target or in a park slot: still connected for this party
		r.State = StateActive
	case c.state == StateHeld && l.holding:
		r.State, r.HeldBy = StateHeld, HeldLocal
	case c.state == StateHeld:
		r.State, r.HeldBy = StateHeld, HeldRemote
	case c.connected():
		r.State = StateActive
	}
	l.party.Restored(r)
	if c.conf != nil && l == c.conf.host { // the host's view of its conference
		c.confUpdated("")
	}
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
