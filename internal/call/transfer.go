package call

import (
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/route"
)

// blindXfer is a blind transfer whose target rings: the transferor has
// left, the transferred party (now c.caller) hears ringback.
type blindXfer struct {
	// resume: the transferee heard call.held from the transferor's hold
	// and hears call.resumed once connected.
	resume bool
	// by is the transferor's user, rung back (Options.TransferRecall)
	// when the target does not take the call; recalling marks that ring.
	by        ident.UserID
	recalling bool
}

// consultLink ties an original call to the consult call its transferor
// placed (attended transfer), or to the call a REFER with Replaces names.
type consultLink struct {
	call *Call
	by   *leg        // the transferor's leg in the original
	done func(error) // a REFER's outcome (nil for device requests)
}

// transferable refuses a transfer l may not start now; it returns the
// message, or "".
func (c *Call) transferable(l *leg) string {
	switch {
	case c.conferencing():
		return "a conference cannot be transferred; remove participants instead"
	case len(c.merging) > 0:
		return "a merge into this call is under way"
	case !c.connected() || c.winner == nil || (l != c.caller && l != c.winner):
		return "only an answered call can be transferred"
	case l.user == "":
		return "only a user's device can transfer a call"
	case c.consult != nil:
		return "an attended transfer is already in progress on this call"
	case c.original != nil:
		return "a consultation call cannot be transferred; complete the transfer on the original call"
	}
	return ""
}

// onTransfer is a blind transfer by l: the destination is planned first
// (a refusal leaves the call as it was); then blindTransfer. done, when
// set, hears the outcome of the request (a REFER).
func (c *Call) onTransfer(l *leg, dest string, done func(error)) {
	refuseTransfer := func(code ErrorCode, msg string) {
		if done != nil {
			done(errors.New(msg))
		}
		refuse(l, code, "call.transfer: "+msg)
	}
	if dest == ParkCode {
		c.onPark(l, nil, done)
		return
	}
	if msg := c.transferable(l); msg != "" {
		refuseTransfer(CodeInvalid, msg)
		return
	}
	p, msg := c.transferPlan(l, dest)
	if msg != "" {
		refuseTransfer(CodeFailed, msg)
		return
	}
	if done != nil {
		done(nil)
	}
	c.blindTransfer(l, dest, p, partyName(l), l.user)
}

// blindTransfer carries out a blind transfer of l's other party to dest
// (planned as p), asked for by (a party's name, or Supervisor): l leaves
// with "transferred" and the other party hears ringback while the
// destination rings. recall is the user rung back when the destination
// does not take the call (Options.TransferRecall), or empty.
func (c *Call) blindTransfer(l *leg, dest string, p *route.Plan, by string, recall ident.UserID) {
	o := c.other(l)
	c.bridge.Stop()
	c.bridge = nil
	c.xfer = &blindXfer{resume: l.holding && !o.holding, by: recall}
	c.rec.transferred(fmt.Sprintf("blind transfer by %s of %s to %s", by, partyName(o), dest))
	c.logTransfer()
	c.closeLeg(l, EndTransferred)
	c.caller, c.winner, c.callees = o, nil, nil
	c.round.stop()
	c.round = newRound(true) // the transferred party hears ringback, not call.ringing
	c.emergency, c.trunkPref, c.dest = false, "", dest
	c.setState(StateRinging)
	if pl, err := c.m.media.Play(o.media, FeedRingback); err == nil {
		c.player = pl
	}
	c.rec.save()
	c.execute(p)
}

// transferPlan plans a blind transfer by l to dest; it returns why the
// destination cannot take a transfer, or "".
func (c *Call) transferPlan(l *leg, dest string) (*route.Plan, string) {
	p := c.plan(route.From{Account: c.account, User: l.user}, dest)
	switch p.Action {
	case route.ActionRing, route.ActionTrunk:
		return p, ""
	case route.ActionEcho:
		return nil, "a call cannot be transferred to a feature code"
	}
	if p.Err != nil {
		return nil, p.Err.Error()
	}
	return nil, fmt.Sprintf("%s cannot be reached", dest)
}

// recall rings the transferor back after a blind transfer's target did
// not take the call; it reports whether it did. The transferor's devices
// see a new call (a fresh call id: the old one ended for them).
func (c *Call) recall() bool {
	x := c.xfer
	if x == nil || x.recalling || x.by == "" || !c.m.opt.TransferRecall {
		return false
	}
	x.recalling = true
	c.rec.noted("; not taken, recalling the transferor")
	c.recallID = c.m.newCallID()
	c.m.alias(c.recallID, c)
	c.round = newRound(c.round.told)
	c.round.plan([]route.Step{{Targets: []route.Target{{User: x.by}}, Ring: c.m.opt.RingTimeout}}, "", route.From{})
	c.nextStep()
	return true
}

// transferConnected finishes a blind transfer: the target answered and is
// bridged to the transferred party, who hears no new call events.
func (c *Call) transferConnected(w *leg) {
	x := c.xfer
	c.xfer = nil
	c.joined = append(c.joined, w)
	c.rec.noted(fmt.Sprintf("; answered by %s", partyName(w)))
	c.rec.save()
	w.party.Answered(time.Now().UTC())
	if x.resume {
		c.caller.party.Resumed()
	}
}

// onAttended handles call.transfer.attended from l's device.
func (c *Call) onAttended(l *leg, dev Device, m AttendedTransfer) {
	refuse := func(msg string) {
		dev.Party(c.id).Refused(Refusal{Code: CodeInvalid, ReqID: m.ReqID, Msg: "call.transfer.attended: " + msg})
	}
	switch m.Step {
	case StepConsult:
		if msg := c.transferable(l); msg != "" {
			refuse(msg)
			return
		}
		if m.To == "" || m.SDP == "" {
			refuse("consult needs a destination and an sdp offer")
			return
		}
		held := !l.holding
		if held {
			c.onHold(l)
		}
		c2 := c.m.startCall(dev, Create{ReqID: m.ReqID, Destination: m.To, SDP: m.SDP}, c)
		switch {
		case c2 != nil:
			c.consult = &consultLink{call: c2, by: l}
		case held: // no consult call (the server is stopping): undo the hold
			c.onResume(l)
		}
	case StepComplete:
		if c.consult == nil || c.consult.by != l || c.consult.done != nil {
			refuse("no consultation call to complete on this call")
			return
		}
		c.completeWith(l, string(dev.SessionID()))
	default:
		refuse(fmt.Sprintf("unknown step %q", m.Step))
	}
}

// joinReplaced is a REFER with Replaces from l: the other party of this
// call is joined to the other party of the call where replaces (the
// transferor's other dialog) is a leg.
func (c *Call) joinReplaced(l *leg, replaces string, done func(error)) {
	if msg := c.transferable(l); msg != "" {
		done(errors.New(msg))
		return
	}
	c2 := c.m.callWithMember(replaces, c)
	if c2 == nil {
		done(errors.New("the call to replace does not exist"))
		return
	}
	c.consult = &consultLink{call: c2, by: l, done: done}
	c.completeWith(l, replaces)
}

// completeWith asks the consult call to hand its other party over to this
// call; tKey is the transferor's party key there.
func (c *Call) completeWith(t *leg, tKey string) {
	c2, oKey := c.consult.call, c.other(t).party.Key()
	if c2.ctx.Err() != nil {
		c.completeFailed("the consultation call has ended")
		return
	}
	c2.post(event{fn: func() { c2.handOver(c, tKey, oKey) }, dropped: func() {
		// The consult ended before it could hand over: the request still gets its answer.
		c.post(event{fn: func() { c.completeFailed("the consultation call has ended") }})
	}})
}

// completeFailed reports a completion that could not happen; the original
// call stays as it was (held).
func (c *Call) completeFailed(msg string) {
	link := c.consult
	if link == nil {
		return
	}
	if link.done != nil {
		c.consult = nil // a REFER's link lasts for the request only
		link.done(errors.New(msg))
		return
	}
	refuse(link.by, CodeFailed, "call.transfer.attended: "+msg)
}

// handOver runs on the consult call: its transferor's leg (tKey) ends with
// "transferred" and the other leg moves, media and all, to orig; this
// actor then stops and forwards what its parties still send.
func (c *Call) handOver(orig *Call, tKey, oKey string) {
	t := c.legOf(tKey)
	if msg := c.handOverRefusal(t, oKey); msg != "" {
		orig.post(event{fn: func() { orig.completeFailed(msg) }})
		return
	}
	d := c.other(t)
	resumeD := c.dropBridgedLeg(t, EndTransferred)
	c.original = nil
	c.handOff(orig, d, func() {
		c.rec.joinedInto(fmt.Sprintf("attended transfer by %s: %s joined into call %s", partyName(t), partyName(d), orig.id),
			c.legStats(), d.id)
		c.logTransfer()
	}, func() { orig.adopt(d, c, resumeD) })
}

// dropBridgedLeg stops the call's timers and bridge and ends leg t with
// reason, before the other leg moves to another call; it says whether
// that leg heard t's hold and must be resumed there.
func (c *Call) dropBridgedLeg(t *leg, reason EndReason) (resumeOther bool) {
	for _, tm := range c.timers {
		tm.Stop()
	}
	c.bridge.Stop()
	c.bridge = nil
	resumeOther = t.holding && !c.other(t).holding
	c.closeLeg(t, reason)
	return resumeOther
}

// handOff ends this call once kept, its remaining party, moves (media
// and all) to call to: kept keeps this call's id when it has none of its
// own, the call's recording ends with it, closeRecord writes how its
// record ends, and adopt runs on to. This actor then stops and forwards
// what its parties still send; if to has ended first, kept is hung up.
func (c *Call) handOff(to *Call, kept *leg, closeRecord, adopt func()) {
	if kept.callID == "" {
		kept.callID = c.id
	}
	kept.endedFor = ""
	to.members.Store(kept.party.Key(), struct{}{})
	c.stopRecording("", nil, false)
	c.setState(StateEnded)
	closeRecord()
	c.moved.Store(to)
	c.m.join(c, to)
	c.done = true
	to.post(event{fn: adopt, dropped: func() {
		kept.party.Ended(EndHangup, nil)
		_ = kept.media.Close()
	}})
}

// handOverRefusal says why the consult cannot hand its other party over
// (t is the transferor's leg here, oKey the other party's key in the
// original), or "".
func (c *Call) handOverRefusal(t *leg, oKey string) string {
	switch {
	case t == nil || c.state == StateEnded:
		return "the consultation call has ended"
	case c.conferencing():
		return "the call to replace is a conference"
	case !c.connected() || c.winner == nil:
		return "the consultation call is not answered yet"
	case c.other(t).party.Key() == oKey:
		return "both calls are with the same device"
	}
	return ""
}

// adopt runs on the original call: d (the consult's other party) replaces
// the transferor, whose leg ends with "transferred". The two remaining
// parties keep their calls and hear only what changed for them.
func (c *Call) adopt(d *leg, from *Call, resumeD bool) {
	link := c.consult
	c.consult = nil
	if c.state == StateEnded || link == nil || link.by.ended {
		refuseAdoption(d, link)
		return
	}
	t := link.by
	o := c.other(t)
	resumeO := t.holding && !o.holding
	if link.done != nil {
		link.done(nil)
	}
	c.bridge.Stop()
	c.bridge = nil
	c.closeLeg(t, EndTransferred)
	c.caller, c.winner = o, d
	c.callees = append(c.callees, d)
	c.joined = append(c.joined, d)
	br, err := c.m.media.Bridge(o.media, d.media)
	if err != nil {
		c.m.log.Error("transfer: bridge", "call_id", c.id, "err", err)
		c.end(EndFailed)
		return
	}
	c.bridge = br
	c.tapBridge()
	c.applyFeeds()
	c.settleHold()
	c.rec.transferred(fmt.Sprintf("attended transfer by %s: %s joined with %s from call %s",
		partyName(t), partyName(o), partyName(d), from.id))
	c.logTransfer()
	c.rec.save()
	if resumeO {
		o.party.Resumed()
	}
	if resumeD {
		d.party.Resumed()
	}
}

// refuseAdoption ends d, whose original call is gone, and answers the
// REFER that asked for the join.
func refuseAdoption(d *leg, link *consultLink) {
	d.party.Ended(EndHangup, nil)
	_ = d.media.Close()
	if link != nil && link.done != nil {
		link.done(errors.New("the original call has ended"))
	}
}

// settleHold puts a connected call in the state its parties' holds say.
func (c *Call) settleHold() {
	next := StateActive
	if c.caller.holding || c.winner.holding {
		next = StateHeld
	}
	if c.state != next {
		c.setState(next)
	}
}

// consultEnded runs on the original when its consult call ended without
// a completion: the original resumes.
func (c *Call) consultEnded(c2 *Call) {
	if c.consult == nil || c.consult.call != c2 {
		return
	}
	by := c.consult.by
	c.consult = nil
	if c.connected() && by.holding && !by.ended {
		c.onResume(by)
	}
}

// unlink tells linked calls this one is over: the original resumes after
// a consult ends; a consult forgets an original that ended.
func (c *Call) unlink() {
	if orig := c.original; orig != nil {
		c.original = nil
		orig.post(event{fn: func() { orig.consultEnded(c) }})
	}
	if link := c.consult; link != nil {
		c.consult = nil
		c2 := link.call
		c2.post(event{fn: func() {
			if c2.original == c {
				c2.original = nil
			}
		}})
		if link.done != nil {
			link.done(errors.New("the call ended"))
		}
	}
}

// partyName names a leg for the record: its user, number, or device.
func partyName(l *leg) string {
	switch {
	case l.user != "":
		return string(l.user)
	case l.num != "":
		return l.num
	}
	return l.party.Key()
}
