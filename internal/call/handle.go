package call

import (
	"context"
	"time"

	"github.com/switchboard-voice/switchboard/internal/protocol"
)

func (c *Call) handle(ev event) {
	switch {
	case ev.fn != nil:
		ev.fn()
	case ev.on != nil:
		ev.on(c)
	case ev.shutdown:
		c.end(protocol.EndServerShutdown)
	case ev.gone:
		c.deviceGone(ev.dev)
	case ev.restore != nil:
		c.restore(string(ev.dev.SessionID()))
		close(ev.restore)
	default:
		c.handleMessage(ev.dev, ev.msg)
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

func (c *Call) handleMessage(dev Device, msg protocol.Message) {
	l := c.legOf(string(dev.SessionID()))
	if l == nil || c.state == StateEnded {
		if isTrickle(msg) { // advisory: late candidates of a leg that ended
			return
		}
		devicePart{dev: dev, call: c.id}.Refused(protocol.CodeCallNotFound, "this call is over for this device")
		return
	}
	switch m := msg.(type) {
	case *protocol.CallAnswer:
		c.onAnswer(l)
	case *protocol.SDPAnswer:
		c.onSDPAnswer(l, m.SDP)
	case *protocol.CallReject:
		c.onReject(l, m.Reason)
	case *protocol.CallHangup:
		c.onHangup(l)
	case *protocol.ICECandidate:
		if err := l.addCandidate(m); err != nil {
			devicePart{dev: dev, call: c.id}.Refused(protocol.CodeInvalidMessage, "ice.candidate: "+err.Error())
		}
	case *protocol.ICEDone:
		// Candidates arrive embedded or trickled; nothing waits for the end.
	case *protocol.SDPOffer:
		c.onReoffer(l, m.SDP)
	case *protocol.CallHold:
		c.onHold(l)
	case *protocol.CallResume:
		c.onResume(l)
	case *protocol.CallMute:
		c.onMute(l, true)
	case *protocol.CallUnmute:
		c.onMute(l, false)
	case *protocol.CallTransfer:
		c.onTransfer(l, m.Destination, nil)
	case *protocol.CallTransferAttended:
		c.onAttended(l, dev, m)
	default:
		l.party.Refused(protocol.CodeInvalidMessage, "unexpected "+string(msg.MessageType()))
	}
}

func (c *Call) onAnswer(l *leg) {
	switch {
	case l == c.caller:
		l.party.Refused(protocol.CodeInvalidMessage, "call.answer: an outbound call cannot be answered")
	case l == c.winner:
		l.party.Refused(protocol.CodeInvalidMessage, "call.answer: the call is already answered")
	case c.state != StateRinging || !l.alerted:
		l.party.Refused(protocol.CodeInvalidMessage, "call.answer: the call is not ringing on this device")
	default:
		c.winner = l
		c.setState(StateAnswering)
		c.stepGen++
		c.ringTimer.Stop()
		for _, o := range c.callees {
			if o != l {
				c.closeLeg(o, protocol.EndAnsweredElsewhere)
			}
		}
		if l.answer != "" {
			c.connect()
			return
		}
		c.after(c.m.opt.AnswerTimeout, func() {
			if c.state == StateAnswering {
				c.failWith(l, protocol.CodeCallFailed, "no sdp.answer after call.answer")
			}
		})
	}
}

func (c *Call) onSDPAnswer(l *leg, sdp string) {
	if l == c.caller || l.answer != "" {
		l.party.Refused(protocol.CodeInvalidMessage, "sdp.answer: no offer of the server is waiting for an answer")
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
		c.failWith(w, protocol.CodeInvalidMessage, "sdp: "+err.Error())
		return
	}
	if err := w.described(); err != nil {
		w.party.Refused(protocol.CodeInvalidMessage, "ice.candidate: "+err.Error())
	}
	c.stopPlaying()
	if c.earlyLeg == w { // bridged since its early media: now both ways
		c.applyFeeds()
	} else {
		br, err := c.m.media.Bridge(c.caller.media, w.media)
		if err != nil {
			c.failWith(w, protocol.CodeCallFailed, "media: "+err.Error())
			return
		}
		c.bridge = br
		c.applyFeeds()
	}
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
	c.rec.AnsweredAt, c.rec.AnsweredBy = &at, w.party.Key()
	c.joined = append(c.joined, c.caller, w)
	c.saveRecord()
	c.logAnswered(w.party.Kind())
	c.caller.party.Answered(at)
	w.party.Answered(at)
}

func (c *Call) onReject(l *leg, reason protocol.RejectReason) {
	switch {
	case l == c.caller:
		l.party.Refused(protocol.CodeInvalidMessage, "call.reject: an outbound call cannot be rejected; hang up instead")
	case c.state != StateRinging || l == c.winner:
		l.party.Refused(protocol.CodeInvalidMessage, "call.reject: the call is not ringing on this device")
	default:
		if reason == protocol.RejectBusy {
			c.anyBusy = true
		}
		c.dropCallee(l, protocol.EndRejected)
	}
}

func (c *Call) onHangup(l *leg) {
	if l != c.caller && l != c.winner {
		c.onReject(l, protocol.RejectDecline) // hanging up a ringing call declines it
		return
	}
	c.end(protocol.EndHangup)
}

func (c *Call) onReoffer(l *leg, offer string) {
	if l != c.caller && (l != c.winner || !c.connected()) {
		l.party.Refused(protocol.CodeInvalidMessage, "sdp.offer: only a connected call can be re-offered")
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
				l.party.Refused(protocol.CodeInvalidMessage, "sdp.offer: "+err.Error())
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
	case l == c.caller || l == c.winner:
		c.end(protocol.EndHangup)
	default:
		c.dropCallee(l, "")
	}
}
