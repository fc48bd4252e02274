package call

import (
	"context"
	"errors"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/route"
)

// Forbiddable is a party that can be told its call was refused because the
// caller may not make it (a SIP phone answers 403 rather than 404).
type Forbiddable interface{ Forbidden() }

// maxForwards bounds how many forwards (a follow-me's final forward, a
// ring group's next) one call follows, against loops.
const maxForwards = 5

// plan asks the router how a call from from to dest goes.
func (c *Call) plan(from route.From, dest string) *route.Plan {
	c.planFrom = from
	return route.PlanCall(c.ctx, c.m.dir, c.m.trunkInfos(), from, dest,
		route.Options{DefaultRing: c.m.opt.RingTimeout, MaxForwards: -1})
}

// route plans the call's destination and carries the plan out.
func (c *Call) route() {
	if c.state == StateEnded {
		return
	}
	c.dest = c.create.Destination
	if !c.inbound && c.routePark() {
		return
	}
	p := c.plan(route.From{Account: c.account, User: c.fromUser, Inbound: c.inbound}, c.dest)
	c.m.log.Debug("route", "call_id", c.id, "plan", p.Explain)
	if c.needsAddress(p) {
		c.refuseNoAddress()
		return
	}
	c.execute(p)
}

// execute carries out p: ring its steps, call out through a trunk, echo,
// or end the call with the plan's refusal.
func (c *Call) execute(p *route.Plan) {
	if p.ToUser != "" {
		c.toUser = p.ToUser
	}
	c.rec.routed(p.ToUser, p.Action == route.ActionTrunk)
	switch p.Action {
	case route.ActionEcho:
		c.startEcho()
	case route.ActionTrunk:
		c.round.plan([]route.Step{{Targets: []route.Target{{Number: p.Number}}, Ring: outboundRingLimit}}, "", route.From{})
		c.emergency, c.trunkPref = p.Emergency, p.Trunk
		c.nextStep()
	case route.ActionRing:
		c.round.plan(p.Steps, p.Then, p.ForwardFrom(c.planFrom))
		c.nextStep()
	default:
		reason := EndReason(p.Reason) // the router's reasons are the call's
		if reason == "" {
			reason = EndFailed
		}
		if reason == EndFailed && p.Err != nil {
			refuse(c.caller, CodeFailed, p.Err.Error())
			if f, ok := c.caller.party.(Forbiddable); ok && errors.Is(p.Err, route.ErrNotAllowed) {
				f.Forbidden()
			}
		}
		c.end(reason)
	}
}

// nextStep rings the next routing step's targets for its ring time; with
// no step left it follows the forward, or ends the call.
func (c *Call) nextStep() {
	if c.state == StateEnded {
		return
	}
	r := c.round
	r.stop()
	refusal := "" // why a target could not be rung, for a caller left with nothing
	for st, ok := r.next(); ok; st, ok = r.next() {
		for _, t := range st.Targets {
			if msg := c.ringTarget(t); msg != "" {
				refusal = msg
			}
		}
		if !c.anyRinging() {
			continue
		}
		gen := r.gen
		r.timer = c.after(st.Ring, func() { c.stepTimedOut(r, gen) })
		return
	}
	if r.then == "" && c.recall() {
		return
	}
	if r.then != "" && c.forwards < maxForwards {
		c.forwards++
		dest, from := r.takeForward()
		c.dest = dest
		p := c.plan(from, dest)
		c.m.log.Debug("route: forward", "call_id", c.id, "to", dest, "plan", p.Explain)
		c.execute(p)
		return
	}
	reason := r.reason()
	if reason == EndFailed && refusal != "" {
		refuse(c.caller, CodeFailed, refusal)
	}
	c.end(reason)
}

// stepTimedOut stops the step's ringing (its devices hear no-answer) and
// moves on.
func (c *Call) stepTimedOut(r *ringRound, gen int) {
	if r != c.round || gen != r.gen || c.winner != nil || (c.state != StateTrying && c.state != StateRinging) {
		return
	}
	r.timedOut = true
	for _, l := range c.callees {
		c.closeLeg(l, EndNoAnswer)
	}
	c.nextStep()
}

// anyRinging reports whether a callee leg is still up.
func (c *Call) anyRinging() bool {
	for _, l := range c.callees {
		if !l.ended {
			return true
		}
	}
	return false
}

// ringTarget rings a user's devices and desk phones, or a number through
// a trunk. It returns why a number could not be called, when the caller
// should hear it.
func (c *Call) ringTarget(t route.Target) string {
	if t.Number != "" {
		return c.ringNumber(t.Number)
	}
	u, err := c.m.dir.GetUser(c.ctx, t.User)
	if err != nil {
		c.m.log.Warn("route: user gone", "call_id", c.id, "user", t.User)
		return ""
	}
	who := leg{user: u.ID, num: u.Extension, name: u.Name}
	id := c.id
	if c.recallID != "" { // ringing a transferor back: its devices ended c.id
		id = c.recallID
	}
	for _, dev := range c.m.devices.UserDevices(u.ID) {
		p := dev.Party(id)
		if c.isParty(p.Key()) {
			continue // never ring a device already in the call
		}
		c.ring(p, leg{dev: dev, user: who.user, num: who.num, name: who.name})
	}
	if c.m.phones != nil {
		for _, p := range c.m.phones.CalleeParties(u.ID, remote{c}) {
			c.ring(p, who)
		}
	}
	return ""
}

// isParty reports whether key is the caller's or a live callee's.
func (c *Call) isParty(key string) bool {
	return c.legOf(key) != nil
}

// ringNumber calls number through the trunks (the emergency trunk for an
// emergency call), within the account's cap on outbound calls. It returns
// why the number was not called when that is the account's cap.
func (c *Call) ringNumber(number string) string {
	if c.m.trunks == nil {
		c.round.failed = true
		return ""
	}
	// Emergency calls are not counted, so they must not be released
	// either: that would free a place another call holds.
	counted := !c.emergency
	if counted && !c.m.outboundStart(c.account) {
		c.m.log.Info("route: outbound cap reached", "call_id", c.id, "account", c.account)
		c.round.failed = true
		return "the account has reached its limit of concurrent calls through trunks"
	}
	release := func() {
		if counted {
			c.m.outboundDone(c.account)
		}
	}
	p := c.m.trunks.TrunkParty(TrunkRequest{Account: c.account, Number: number, CallerID: c.create.CallerID,
		Emergency: c.emergency, Trunk: c.trunkPref, Location: c.emergencyLocation()}, remote{c})
	if p == nil {
		release()
		c.round.failed = true
		return ""
	}
	if l := c.ring(p, leg{num: number}); l != nil {
		l.trunk = counted
	} else {
		release()
	}
	return ""
}

// ring prepares a leg toward p; it is alerted when the offer is ready.
func (c *Call) ring(p Party, who leg) *leg {
	l := &leg{id: ident.NewLegID(), role: roleCallee, party: p, dev: who.dev, user: who.user, num: who.num, name: who.name}
	media, err := p.NewMedia(c.m.media, l.id)
	if err != nil {
		c.m.log.Warn("callee media", "call_id", c.id, "err", err)
		return nil
	}
	l.media = media
	c.callees = append(c.callees, l)
	c.members.Store(p.Key(), struct{}{})
	c.async(func() func() {
		ctx, cancel := context.WithTimeout(c.ctx, c.m.opt.MediaTimeout)
		defer cancel()
		offer, err := l.media.CreateOffer(ctx)
		return func() { c.alert(l, offer, err) }
	})
	return l
}

// info is what a callee is told about the call: the caller, or the party
// being transferred to it.
func (c *Call) info() Info {
	from := c.caller
	return Info{From: from.num, FromName: from.name, To: c.dest}
}

// startEcho answers the caller at once with its own audio: the echo test.
func (c *Call) startEcho() {
	e, err := c.m.media.Echo(c.caller.media)
	if err != nil {
		c.failWith(c.caller, CodeFailed, "media: "+err.Error())
		return
	}
	c.echo = e
	c.setState(StateActive)
	c.watchMedia(c.caller) // media that never comes up ends the echo test
	c.answeredAt = time.Now()
	at := c.answeredAt.UTC()
	c.joined = append(c.joined, c.caller)
	c.rec.answered(at, "echo")
	c.logAnswered("echo")
	c.caller.party.Answered(at)
}

// stopPlaying stops ringback and the echo.
func (c *Call) stopPlaying() {
	if c.player != nil {
		c.player.Stop()
		c.player = nil
	}
	if c.echo != nil {
		c.echo.Stop()
		c.echo = nil
	}
}
