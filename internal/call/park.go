package call

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/park"
	"github.com/switchboard-voice/switchboard/internal/route"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// ParkCode is the destination of a blind transfer that parks the call.
const ParkCode = "*70"

// Park parks the other party in the account's first free slot (call.park).
type Park struct{ ReqID string }

func (Park) command() {}

// ParkListener is a party that is told where its call was parked (the
// reply to call.park) before its leg ends with "transferred".
type ParkListener interface {
	Parked(reqID, slot string)
}

// parking is a call whose remaining party waits in a park slot, hearing
// music, until someone dials the slot or the park times out.
//
//	active/held ──park──▶ parked ──pickup──▶ (joined into the picker's call)
//	                        ├──timeout──▶ ringing (the parker's devices)
//	                        └──hangup───▶ ended
type parking struct {
	slot int
	by   ident.UserID // the parker, rung back on timeout
	// resume: the parked party heard call.held from the parker's hold
	// and hears call.resumed once connected again.
	resume bool
}

// parkTimeout is how long a call stays parked before the parker is rung.
func (m *Manager) parkTimeout() time.Duration {
	if m.opt.ParkTimeout > 0 {
		return m.opt.ParkTimeout
	}
	return park.DefaultTimeout
}

// onPark parks l's other party (call.park, or with req nil a transfer to
// ParkCode): l's leg ends with "transferred", the other party hears music
// in the slot. Only call.park is answered with the slot; done, when set,
// hears the outcome (a REFER).
func (c *Call) onPark(l *leg, req *Park, done func(error)) {
	reqID := ""
	if req != nil {
		reqID = req.ReqID
	}
	fail := func(code ErrorCode, msg string) {
		if done != nil {
			done(errors.New(msg))
		}
		l.party.Refused(Refusal{Code: code, ReqID: reqID, Msg: "call.park: " + msg})
	}
	lot := c.m.opt.Park
	if lot == nil {
		fail(CodeFailed, "call park is not enabled on this server")
		return
	}
	if msg := c.transferable(l); msg != "" {
		fail(CodeInvalid, msg)
		return
	}
	o := c.other(l)
	slot, err := lot.TryClaim(c.account, park.Parked{Call: c.id, From: o.num, FromName: o.name, By: l.user},
		func(s int) bool { return c.extensionTaken(strconv.Itoa(s)) })
	switch {
	case errors.Is(err, park.ErrFull):
		fail(CodeParkFull, "every park slot of the account is taken")
		return
	case err != nil:
		c.m.log.Warn("park: claim", "call_id", c.id, "err", err)
		fail(CodeFailed, "the park slots cannot be reached: try again")
		return
	}
	if done != nil {
		done(nil)
	}
	if pl, ok := l.party.(ParkListener); ok && req != nil {
		pl.Parked(reqID, strconv.Itoa(slot))
	}
	c.bridge.Stop()
	c.bridge = nil
	c.parked = &parking{slot: slot, by: l.user, resume: l.holding && !o.holding}
	c.rec.transferred(fmt.Sprintf("parked by %s in %d", partyName(l), slot))
	c.logTransfer()
	c.closeLeg(l, EndTransferred)
	c.caller, c.winner, c.callees = o, nil, nil
	c.round.stop()
	c.round = newRound(true) // a ring-back is no news to the parked party
	c.emergency, c.trunkPref, c.dest = false, "", strconv.Itoa(slot)
	c.setState(StateParked)
	if pl, err := c.m.media.Play(o.media, FeedMusic); err == nil {
		c.player = pl
	}
	c.rec.save()
	c.after(c.m.parkTimeout(), func() { c.parkTimedOut(slot) })
}

// parkTimedOut rings the parker back (all their devices, the parked party
// shown as the caller); unanswered, the call ends as no-answer.
func (c *Call) parkTimedOut(slot int) {
	p := c.parked
	if c.state != StateParked || p == nil || p.slot != slot || !c.m.opt.Park.Release(c.account, slot, c.id) {
		return // picked up meanwhile
	}
	c.parked = nil
	c.setState(StateRinging)
	if p.by == "" {
		c.end(EndNoAnswer)
		return
	}
	c.xfer = &blindXfer{resume: p.resume, by: p.by, recalling: true}
	c.rec.noted("; not picked up, recalling the parker")
	c.recallID = c.m.newCallID()
	c.m.alias(c.recallID, c)
	c.round.plan([]route.Step{{Targets: []route.Target{{User: p.by}}, Ring: c.m.opt.RingTimeout}}, "", route.From{})
	c.nextStep()
}

// ParkLost rings the parker back at once (as a park timing out does) for
// the call parked in slot whose cluster-wide claim another node has taken
// (this node was cut off from the cluster for longer than the claim
// lives): the slot number now means the other node's call.
func (m *Manager) ParkLost(id ident.CallID, slot int) {
	if c := m.lookup(id); c != nil {
		c.post(event{fn: func() { c.parkTimedOut(slot) }})
	}
}

// leavePark empties the slot of a parked call that ends.
func (c *Call) leavePark() {
	if p := c.parked; p != nil {
		c.parked = nil
		c.m.opt.Park.Release(c.account, p.slot, c.id)
	}
}

// routePark picks up the call parked in the slot the caller dialled; it
// reports whether the destination is a slot.
func (c *Call) routePark() bool {
	slot, ok := c.m.opt.Park.Slot(c.dest)
	if !ok || c.extensionTaken(c.dest) {
		return false
	}
	var parked *Call
	if p, ok := c.m.opt.Park.Take(c.account, slot); ok {
		parked = c.m.lookup(p.Call)
	}
	if parked == nil {
		c.pickupFailed(slot)
		return true
	}
	parked.post(event{fn: func() { parked.handPark(c, slot) }, dropped: func() {
		c.post(event{fn: func() { c.pickupFailed(slot) }})
	}})
	return true
}

// pickupElsewhere hands a call.create to a park slot that another node
// of the cluster holds to that node (Options.ParkElsewhere), where the
// parked call is; it reports whether it did.
func (m *Manager) pickupElsewhere(dev Device, cr Create) bool {
	if m.opt.ParkElsewhere == nil {
		return false
	}
	slot, ok := m.opt.Park.Slot(cr.Destination)
	if !ok {
		return false
	}
	node := m.opt.Park.Owner(dev.Account(), slot)
	if node == "" {
		return false
	}
	early := m.reqs.pending(dev.SessionID(), cr.ReqID)
	return m.opt.ParkElsewhere(dev, cr, early, node, func() { m.startCall(dev, cr, nil) })
}

// ParkedHere reports whether a call to dest picks up a call parked on
// this node: the pickup takes that call's place, so neither the node's
// ceilings nor the account's cap refuse it, and it is not handed to a
// node with room.
func (m *Manager) ParkedHere(acct ident.AccountID, dest string) bool {
	slot, ok := m.opt.Park.Slot(dest)
	return ok && m.opt.Park.Here(acct, slot)
}

// extensionTaken says whether ext is a user's or a ring group's extension
// in the call's account: such a number is theirs, never a park slot (an
// account that had users at 701–720 keeps reaching them), and parking
// skips it. A lookup that fails counts as taken.
func (c *Call) extensionTaken(ext string) bool {
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
	defer cancel()
	if _, err := c.m.dir.GetUserByExtension(ctx, c.account, ext); !errors.Is(err, store.ErrNotFound) {
		return true
	}
	_, err := c.m.dir.GetRingGroupByExtension(ctx, c.account, ext)
	return !errors.Is(err, store.ErrNotFound)
}

// pickupFailed ends a pickup of an empty slot: call_failed and
// call.ended "failed" for a browser, 404 for a desk phone.
func (c *Call) pickupFailed(slot int) {
	if c.state != StateTrying {
		return
	}
	refuse(c.caller, CodeFailed, fmt.Sprintf("park slot %d is empty", slot))
	c.end(EndFailed)
}

// handPark runs on the parked call: its party moves, media and all, to
// the picker's call to; this actor then stops and forwards what the
// party still sends (as an attended transfer's consult call does).
func (c *Call) handPark(to *Call, slot int) {
	p := c.parked
	if c.state != StateParked || p == nil || p.slot != slot {
		to.post(event{fn: func() { to.pickupFailed(slot) }})
		return
	}
	c.parked = nil
	o := c.caller
	for _, t := range c.timers {
		t.Stop()
	}
	c.stopPlaying()
	c.handOff(to, o, func() {
		c.rec.joinedInto(fmt.Sprintf("%s; picked up from park slot %d: %s joined into call %s", c.rec.record().Transfer, slot, partyName(o), to.id),
			c.legStats(), o.id)
		c.logTransfer()
	}, func() { to.adoptParked(o, slot, p.resume) })
}

// adoptParked runs on the picker's call: the parked party answers it.
func (c *Call) adoptParked(o *leg, slot int, resume bool) {
	if c.state != StateTrying || c.caller.ended {
		o.party.Ended(EndHangup, nil)
		_ = o.media.Close()
		return
	}
	o.alerted = true // a party of this call now: it hears how it ends
	c.winner = o
	c.callees = append(c.callees, o)
	c.joined = append(c.joined, c.caller, o)
	br, err := c.m.media.Bridge(c.caller.media, o.media)
	if err != nil {
		c.m.log.Error("park: bridge", "call_id", c.id, "err", err)
		c.end(EndFailed)
		return
	}
	c.bridge = br
	c.applyFeeds()
	c.setState(StateActive)
	c.settleHold()
	c.watchMedia(c.caller)
	c.watchMedia(o)
	c.answeredAt = time.Now()
	at := c.answeredAt.UTC()
	c.rec.answered(at, o.party.Key())
	c.rec.transferred(fmt.Sprintf("picked up %s from park slot %d", partyName(o), slot))
	c.logAnswered(o.party.Kind())
	c.rec.save()
	c.caller.party.Answered(at)
	if resume {
		o.party.Resumed()
	}
	c.recordAtAnswer() // an account that records every call records this one
}
