package call

import (
	"context"
	"time"
)

func (c *Call) handle(ev event) {
	switch {
	case ev.fn != nil:
		ev.fn()
	case ev.on != nil:
		ev.on(c)
	case ev.shutdown:
		c.end(EndServerShutdown)
	case ev.gone:
		c.deviceGone(ev.dev)
	case ev.restore != nil:
		if ev.rehome {
			c.rehome(ev.dev)
		}
		if !ev.quiet {
			c.restore(string(ev.dev.SessionID()))
		}
		close(ev.restore)
	default:
		c.handleCommand(ev.dev, ev.cmd)
	}
}

// legOf returns the live leg of the party with key in this call.
func (c *Call) legOf(key string) *leg {
	if c.caller.party.Key() == key && !c.caller.ended {
		return c.caller
	}
	for _, l := range c.callees {
		if l.party.Key() == key && !l.ended {
			return l
		}
	}
	return nil
}

// handleCommand applies a device's command. Refusals that are about the
// request rather than the leg go to the device under this call's id.
func (c *Call) handleCommand(dev Device, cmd Command) {
	l := c.legOf(string(dev.SessionID()))
	if l == nil || c.state == StateEnded {
		if isTrickle(cmd) { // advisory: late candidates of a leg that ended
			return
		}
		dev.Party(c.id).Refused(Refusal{Code: CodeNotFound, Msg: "this call is over for this device"})
		return
	}
	switch m := cmd.(type) {
	case Answer:
		c.onAnswer(l)
	case AnswerSDP:
		c.onSDPAnswer(l, m.SDP)
	case Reject:
		c.onReject(l, m.Busy)
	case Hangup:
		c.onHangup(l)
	case Candidate:
		if err := l.addCandidate(m); err != nil {
			dev.Party(c.id).Refused(Refusal{Code: CodeInvalid, Msg: "ice.candidate: " + err.Error()})
		}
	case CandidatesDone:
		// Candidates arrive embedded or trickled; nothing waits for the end.
	case Offer:
		c.onReoffer(l, m.SDP)
	case Hold:
		c.onHold(l)
	case Resume:
		c.onResume(l)
	case Mute:
		c.onMute(l, m.On)
	case Transfer:
		c.onTransfer(l, m.To, nil)
	case AttendedTransfer:
		c.onAttended(l, dev, m)
	case Park:
		c.onPark(l, &m, nil)
	case Record:
		c.onRecord(l, m)
	default:
		c.conferenceCommand(l, dev, cmd)
	}
}

// refuse tells l its request was not accepted.
func refuse(l *leg, code ErrorCode, msg string) {
	l.party.Refused(Refusal{Code: code, Msg: msg})
}

func (c *Call) onAnswer(l *leg) {
	switch {
	case l == c.caller:
		refuse(l, CodeInvalid, "call.answer: an outbound call cannot be answered")
	case l == c.winner:
		refuse(l, CodeInvalid, "call.answer: the call is already answered")
	case c.state != StateRinging || !l.alerted:
		refuse(l, CodeInvalid, "call.answer: the call is not ringing on this device")
	default:
		c.winner = l
		c.setState(StateAnswering)
		c.round.stop()
		for _, o := range c.callees {
			if o != l {
				c.closeLeg(o, EndAnsweredElsewhere)
			}
		}
		if l.answer != "" {
			c.connect()
			return
		}
		c.after(c.m.opt.AnswerTimeout, func() {
			if c.state == StateAnswering {
				c.failWith(l, CodeFailed, "no sdp.answer after call.answer")
			}
		})
	}
}

func (c *Call) onSDPAnswer(l *leg, sdp string) {
	if l == c.caller || l.answer != "" {
		refuse(l, CodeInvalid, "sdp.answer: no offer of the server is waiting for an answer")
		return
	}
	l.answer = sdp
	if l == c.winner && c.state == StateAnswering {
		c.connect()
	}
}

// connect applies the winner's answer and bridges the media.
func (c *Call) connect() {
	w := c.winner
	if err := c.applyAnswer(w, w.answer); err != nil {
		c.failWith(w, CodeInvalid, "sdp: "+err.Error())
		return
	}
	if err := w.described(); err != nil {
		refuse(w, CodeInvalid, "ice.candidate: "+err.Error())
	}
	c.stopPlaying()
	if c.earlyLeg == w { // bridged since its early media: now both ways
		c.applyFeeds()
	} else {
		br, err := c.m.media.Bridge(c.caller.media, w.media)
		if err != nil {
			c.failWith(w, CodeFailed, "media: "+err.Error())
			return
		}
		c.bridge = br
		c.applyFeeds()
	}
	c.tapBridge()
	c.setState(StateActive)
	if c.caller.holding {
		c.setState(StateHeld)
	}
	c.watchMedia(c.caller)
	c.watchMedia(w)
	if c.xfer != nil { // a blind transfer's target answered
		c.transferConnected(w)
		return
	}
	c.answeredAt = time.Now()
	at := c.answeredAt.UTC()
	c.joined = append(c.joined, c.caller, w)
	c.rec.answered(at, w.party.Key())
	c.logAnswered(w.party.Kind())
	c.caller.party.Answered(at)
	w.party.Answered(at)
	c.recordAtAnswer()
}

func (c *Call) onReject(l *leg, busy bool) {
	switch {
	case l == c.caller:
		refuse(l, CodeInvalid, "call.reject: an outbound call cannot be rejected; hang up instead")
	case c.state != StateRinging || l == c.winner:
		refuse(l, CodeInvalid, "call.reject: the call is not ringing on this device")
	default:
		if busy {
			c.round.busy = true
		}
		c.dropCallee(l, EndRejected)
	}
}

func (c *Call) onHangup(l *leg) {
	if c.conferencing() {
		c.leave(l, EndHangup, "")
		return
	}
	if l != c.caller && l != c.winner {
		c.onReject(l, false) // hanging up a ringing call declines it
		return
	}
	c.end(EndHangup)
}

func (c *Call) onReoffer(l *leg, offer string) {
	if !c.conferencing() && l != c.caller && (l != c.winner || !c.connected()) {
		refuse(l, CodeInvalid, "sdp.offer: only a connected call can be re-offered")
		return
	}
	c.async(func() func() {
		ctx, cancel := context.WithTimeout(c.ctx, c.m.opt.MediaTimeout)
		defer cancel()
		answer, err := l.media.Reoffer(ctx, offer)
		return func() {
			if l.ended {
				return
			}
			if err != nil {
				refuse(l, CodeInvalid, "sdp.offer: "+err.Error())
				return
			}
			l.party.Answer(answer)
		}
	})
}

// deviceGone handles a device session that is over for good.
func (c *Call) deviceGone(dev Device) {
	l := c.legOf(string(dev.SessionID()))
	switch {
	case l == nil:
	case c.conferencing():
		c.leave(l, EndHangup, "")
	case l == c.caller || l == c.winner:
		c.end(EndHangup)
	default:
		c.dropCallee(l, "")
	}
}
