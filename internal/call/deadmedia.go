package call

import "time"

// WatchedMedia is leg media that reports its own death (internal/media's
// watchdog): no RTP and no RTCP for media.timeout, or ICE failed. onDead
// runs once, on a goroutine of its own; only the first Watch counts, and
// Close ends the watch.
type WatchedMedia interface {
	Watch(onDead func(cause string, idle time.Duration))
}

// watchMedia has l's media, once it should flow (answered, or the echo
// test), report its death to whichever actor owns l by then: a transfer
// may have joined l into another call, and Call.post follows it there.
func (c *Call) watchMedia(l *leg) {
	w, ok := l.media.(WatchedMedia)
	if !ok {
		return
	}
	w.Watch(func(cause string, idle time.Duration) {
		c.post(event{on: func(c *Call) { c.mediaDead(l, cause, idle) }})
	})
}

// mediaDead ends the call as failed: a leg whose media died cannot be
// heard, and a call nobody can hear only bills.
func (c *Call) mediaDead(l *leg, cause string, idle time.Duration) {
	if c.state == StateEnded || l.ended || !c.hasLeg(l) {
		return
	}
	c.m.log.Warn("call media dead, ending the call", "call_id", c.id, "account", c.account, "leg", l.id,
		"role", l.role, "cause", cause, "idle", idle.Round(time.Millisecond))
	if c.conferencing() { // the others can still hear each other
		c.leave(l, EndFailed, "")
		return
	}
	c.end(EndFailed)
}

// hasLeg reports whether l is one of c's legs.
func (c *Call) hasLeg(l *leg) bool {
	if l == c.caller {
		return true
	}
	for _, x := range c.callees {
		if x == l {
			return true
		}
	}
	return false
}
