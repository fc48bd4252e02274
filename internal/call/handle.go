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
	case ev.shutdown:
		c.end(protocol.EndHangup)
	case ev.gone:
		c.deviceGone(ev.dev)
	case ev.restore != nil:
		c.restore(ev.dev)
		close(ev.restore)
	default:
		c.handleMessage(ev.dev, ev.msg)
	}
}

// legOf returns dev's live leg in this call.
func (c *Call) legOf(dev Device) *leg {
	if c.caller.dev.SessionID() == dev.SessionID() && !c.caller.ended {
		return c.caller
	}
	for _, l := range c.callees {
		if l.dev.SessionID() == dev.SessionID() && !l.ended {
			return l
		}
	}
	return nil
}

func (c *Call) refuse(dev Device, code protocol.ErrorCode, msg string) {
	dev.Send(&protocol.Error{Code: code, CallID: string(c.id), Message: msg})
}

func (c *Call) handleMessage(dev Device, msg protocol.Message) {
	l := c.legOf(dev)
	if l == nil || c.state == StateEnded {
		c.refuse(dev, protocol.CodeCallNotFound, "this call is over for this device")
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
			c.refuse(dev, protocol.CodeInvalidMessage, "ice.candidate: "+err.Error())
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
	default:
		c.refuse(dev, protocol.CodeCallFailed, string(msg.MessageType())+" is not available on this server yet")
	}
}

func (c *Call) onAnswer(l *leg) {
	switch {
	case l.role == roleCaller:
		c.refuse(l.dev, protocol.CodeInvalidMessage, "call.answer: an outbound call cannot be answered")
	case l == c.winner:
		c.refuse(l.dev, protocol.CodeInvalidMessage, "call.answer: the call is already answered")
	case c.state != StateRinging || !l.alerted:
		c.refuse(l.dev, protocol.CodeInvalidMessage, "call.answer: the call is not ringing on this device")
	default:
		c.winner = l
		c.setState(StateAnswering)
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
				c.failWith(l.dev, protocol.CodeCallFailed, "no sdp.answer after call.answer")
			}
		})
	}
}

func (c *Call) onSDPAnswer(l *leg, sdp string) {
	if l.role == roleCaller || l.answer != "" {
		c.refuse(l.dev, protocol.CodeInvalidMessage, "sdp.answer: no offer of the server is waiting for an answer")
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
	if err := w.media.SetAnswer(w.answer); err != nil {
		c.failWith(w.dev, protocol.CodeInvalidMessage, "sdp: "+err.Error())
		return
	}
	if err := w.described(); err != nil {
		c.refuse(w.dev, protocol.CodeInvalidMessage, "ice.candidate: "+err.Error())
	}
	br, err := c.m.media.Bridge(c.caller.media, w.media)
	if err != nil {
		c.failWith(w.dev, protocol.CodeCallFailed, "media: "+err.Error())
		return
	}
	c.bridge = br
	c.setState(StateActive)
	c.answeredAt = time.Now()
	at := c.answeredAt.UTC()
	c.rec.AnsweredAt, c.rec.AnsweredBy = &at, string(w.dev.SessionID())
	if err := c.m.records.UpdateCallRecord(context.Background(), &c.rec); err != nil {
		c.m.log.Error("call record", "call", c.id, "err", err)
	}
	ans := at.Format(time.RFC3339)
	c.caller.dev.Send(&protocol.CallAnswered{CallID: string(c.id), AnsweredAt: ans})
	w.dev.Send(&protocol.CallAnswered{CallID: string(c.id), AnsweredAt: ans})
}

func (c *Call) onReject(l *leg, reason protocol.RejectReason) {
	switch {
	case l.role == roleCaller:
		c.refuse(l.dev, protocol.CodeInvalidMessage, "call.reject: an outbound call cannot be rejected; hang up instead")
	case c.state != StateRinging || l == c.winner:
		c.refuse(l.dev, protocol.CodeInvalidMessage, "call.reject: the call is not ringing on this device")
	default:
		if reason == protocol.RejectBusy {
			c.anyBusy = true
		}
		c.dropCallee(l, protocol.EndRejected)
	}
}

func (c *Call) onHangup(l *leg) {
	if l.role == roleCallee && l != c.winner {
		c.onReject(l, protocol.RejectDecline) // hanging up a ringing call declines it
		return
	}
	c.end(protocol.EndHangup)
}

func (c *Call) onReoffer(l *leg, offer string) {
	if l.role == roleCallee && (l != c.winner || !c.connected()) {
		c.refuse(l.dev, protocol.CodeInvalidMessage, "sdp.offer: only a connected call can be re-offered")
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
				c.refuse(l.dev, protocol.CodeInvalidMessage, "sdp.offer: "+err.Error())
				return
			}
			l.dev.Send(&protocol.SDPAnswer{CallID: string(c.id), SDP: answer})
		}
	})
}

// deviceGone handles a device session that is over for good.
func (c *Call) deviceGone(dev Device) {
	l := c.legOf(dev)
	switch {
	case l == nil:
	case l == c.caller || l == c.winner:
		c.end(protocol.EndHangup)
	default:
		c.dropCallee(l, "")
	}
}
