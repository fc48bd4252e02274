package call

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/route"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// event is what others post to a call. Exactly one of its parts is set.
type event struct {
	dev      Device
	msg      protocol.Message
	gone     bool            // dev's session is over
	shutdown bool            // the server is stopping
	fn       func()          // a result of the call's own async work, applied in the actor
	restore  chan<- struct{} // dev reconnected: send call.restored, then close
}

type legRole int

const (
	roleCaller legRole = iota + 1
	roleCallee
)

func (r legRole) String() string {
	if r == roleCaller {
		return "caller"
	}
	return "callee"
}

// leg is one device's part in a call. Only the actor touches it.
type leg struct {
	id       ident.LegID
	role     legRole
	party    Party
	media    WebRTCMedia
	alerted  bool   // callee: call.incoming + sdp.offer sent
	answer   string // callee: its sdp.answer, once received
	ended    bool
	endedFor protocol.EndReason
	holding  bool // this party put the call on hold
	muted    bool // the server forwards silence in place of this party's audio

	remoteSet bool                     // the device's description is applied
	cands     []*protocol.ICECandidate // trickled before that, applied after
}

// addCandidate applies a trickled candidate, or keeps it until the device's
// description is applied (trickling may overtake the async offer handling).
func (l *leg) addCandidate(m *protocol.ICECandidate) error {
	if !l.remoteSet {
		if len(l.cands) < 64 {
			l.cands = append(l.cands, m)
		}
		return nil
	}
	mid, idx := m.SDPMid, m.SDPMLineIndex
	return l.media.AddCandidate(m.Candidate, &mid, &idx)
}

// described marks the device's description applied and flushes candidates.
func (l *leg) described() error {
	l.remoteSet = true
	cands := l.cands
	l.cands = nil
	for _, m := range cands {
		if err := l.addCandidate(m); err != nil {
			return err
		}
	}
	return nil
}

// Call is one call's actor. Its fields below the line belong to run.
type Call struct {
	id      ident.CallID
	m       *Manager
	events  chan event
	ctx     context.Context
	cancel  context.CancelCauseFunc
	members sync.Map // Party.Key → struct{}: parties allowed to act on the call

	// owned by the actor goroutine
	state      State
	create     *protocol.CallCreate
	caller     *leg
	callees    []*leg
	winner     *leg
	bridge     Bridge
	rec        store.CallRecord
	answeredAt time.Time
	timers     []*time.Timer
	ringTimer  *time.Timer
	anyBusy    bool
	done       bool
	account    ident.AccountID
	fromUser   ident.UserID
}

func newCall(m *Manager, dev Device, msg *protocol.CallCreate) *Call {
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &Call{id: ident.NewCallID(), m: m, events: make(chan event, 64), ctx: ctx, cancel: cancel,
		state: StateTrying, create: msg}
	c.caller = &leg{id: ident.NewLegID(), role: roleCaller, party: devicePart{dev: dev, call: c.id}}
	c.account, c.fromUser = dev.Account(), dev.User()
	c.members.Store(c.caller.party.Key(), struct{}{})
	return c
}

// newCallFrom is a call placed by a non-device party (a SIP phone).
func newCallFrom(m *Manager, p Party, pl Placement) *Call {
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &Call{id: ident.NewCallID(), m: m, events: make(chan event, 64), ctx: ctx, cancel: cancel,
		state: StateTrying, create: &protocol.CallCreate{Destination: pl.Destination, SDP: pl.SDP},
		account: pl.Account, fromUser: pl.User}
	c.caller = &leg{id: ident.NewLegID(), role: roleCaller, party: p}
	c.members.Store(p.Key(), struct{}{})
	return c
}

func (c *Call) hasMember(key string) bool {
	_, ok := c.members.Load(key)
	return ok
}

// post hands ev to the actor; once the call has ended it is dropped.
func (c *Call) post(ev event) {
	select {
	case c.events <- ev:
	case <-c.ctx.Done():
	}
}

// async runs work off the actor (media negotiation can take a while) and
// applies its result on the actor.
func (c *Call) async(work func() func()) {
	c.m.wg.Add(1)
	go func() {
		defer c.m.wg.Done()
		apply := work()
		c.post(event{fn: apply})
	}()
}

// after runs fn on the actor once d has passed, unless the call ended.
func (c *Call) after(d time.Duration, fn func()) *time.Timer {
	t := time.AfterFunc(d, func() { c.post(event{fn: fn}) })
	c.timers = append(c.timers, t)
	return t
}

func (c *Call) run() {
	defer c.cancel(errors.New("call ended"))
	c.start()
	for !c.done {
		ev := <-c.events
		c.handle(ev)
	}
}

func (c *Call) setState(s State) {
	if err := checkTransition(c.state, s); err != nil {
		c.m.log.Error("call state", "call", c.id, "err", err)
		return
	}
	c.state = s
}

func (c *Call) start() {
	c.rec = store.CallRecord{ID: c.id, AccountID: c.account, Direction: "internal",
		FromUserID: c.fromUser, To: c.create.Destination, StartedAt: time.Now().UTC()}
	if u, err := c.m.dir.GetUser(c.ctx, c.fromUser); err == nil {
		c.rec.From, c.rec.FromName = u.Extension, u.Name
	}
	if err := c.m.records.CreateCallRecord(c.ctx, &c.rec); err != nil {
		c.m.log.Error("call record", "call", c.id, "err", err)
	}
	media, err := c.caller.party.NewMedia(c.m.media, c.caller.id)
	if err != nil {
		c.failWith(c.caller, protocol.CodeCallFailed, "media: "+err.Error())
		return
	}
	c.caller.media = media
	c.answerCaller()
}

// answerCaller answers the caller's offer, then routes: nobody is rung for
// a caller whose media cannot work.
func (c *Call) answerCaller() {
	l, offer := c.caller, c.create.SDP
	c.async(func() func() {
		ctx, cancel := context.WithTimeout(c.ctx, c.m.opt.MediaTimeout)
		defer cancel()
		answer, err := l.media.AnswerOffer(ctx, offer)
		return func() {
			if c.state == StateEnded {
				return
			}
			if err != nil {
				c.failWith(l, protocol.CodeInvalidMessage, "sdp: "+err.Error())
				return
			}
			if err := l.described(); err != nil {
				l.party.Refused(protocol.CodeInvalidMessage, "ice.candidate: "+err.Error())
			}
			l.party.Answer(answer)
			c.route()
		}
	})
}

// failWith tells l why and ends the call as failed.
func (c *Call) failWith(l *leg, code protocol.ErrorCode, msg string) {
	l.party.Refused(code, msg)
	c.end(protocol.EndFailed)
}

// route resolves the destination to a user and rings their devices.
func (c *Call) route() {
	if c.state == StateEnded {
		return
	}
	user, reason := c.resolve()
	if user == nil {
		c.end(reason)
		return
	}
	c.rec.ToUserID = user.ID
	if user.DoNotDisturb {
		c.end(protocol.EndBusy)
		return
	}
	for _, dev := range c.m.devices.UserDevices(user.ID) {
		p := devicePart{dev: dev, call: c.id}
		if p.Key() == c.caller.party.Key() {
			continue
		}
		c.ring(p)
	}
	if c.m.phones != nil {
		for _, p := range c.m.phones.CalleeParties(user.ID, remote{c}) {
			c.ring(p)
		}
	}
	if len(c.callees) == 0 {
		c.end(protocol.EndNoAnswer)
		return
	}
	ring := c.m.opt.RingTimeout
	if user.RingTimeoutSeconds > 0 {
		ring = time.Duration(user.RingTimeoutSeconds) * time.Second
	}
	c.ringTimer = c.after(ring, func() {
		if c.state == StateTrying || c.state == StateRinging {
			c.end(protocol.EndNoAnswer)
		}
	})
}

func (c *Call) resolve() (*store.User, protocol.EndReason) {
	dest, err := route.Parse(c.create.Destination)
	if err != nil {
		return nil, protocol.EndFailed
	}
	acct := c.account
	switch dest.Kind {
	case route.KindExtension:
		u, err := c.m.dir.GetUserByExtension(c.ctx, acct, dest.Number)
		if err != nil {
			return nil, protocol.EndFailed
		}
		return u, ""
	case route.KindE164:
		n, err := c.m.dir.GetPhoneNumberByNumber(c.ctx, dest.Number)
		if err != nil || n.AccountID != acct || n.UserID == "" {
			return nil, protocol.EndFailed // no trunk routes yet
		}
		u, err := c.m.dir.GetUser(c.ctx, n.UserID)
		if err != nil {
			return nil, protocol.EndFailed
		}
		return u, ""
	}
	return nil, protocol.EndFailed
}

// ring prepares a leg toward p; it is alerted when the offer is ready.
func (c *Call) ring(p Party) {
	l := &leg{id: ident.NewLegID(), role: roleCallee, party: p}
	media, err := p.NewMedia(c.m.media, l.id)
	if err != nil {
		c.m.log.Warn("callee media", "call", c.id, "err", err)
		return
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
}

func (c *Call) alert(l *leg, offer string, err error) {
	if l.ended || (c.state != StateTrying && c.state != StateRinging) {
		return
	}
	if err != nil {
		c.m.log.Warn("callee offer", "call", c.id, "err", err)
		c.dropCallee(l, "")
		return
	}
	l.alerted = true
	l.party.Incoming(Info{From: c.rec.From, FromName: c.rec.FromName, To: c.create.Destination}, offer)
	if c.state == StateTrying {
		c.setState(StateRinging)
		c.caller.party.Ringing()
	}
}

// dropCallee ends one ringing leg (telling the device why, when reason is
// set); when no callee is left the call ends.
func (c *Call) dropCallee(l *leg, reason protocol.EndReason) {
	c.closeLeg(l, reason)
	for _, o := range c.callees {
		if !o.ended {
			return
		}
	}
	if c.winner == nil {
		switch {
		case reason == protocol.EndRejected && c.anyBusy:
			c.end(protocol.EndBusy)
		case reason == protocol.EndRejected:
			c.end(protocol.EndRejected)
		default:
			c.end(protocol.EndNoAnswer)
		}
	}
}

func (c *Call) closeLeg(l *leg, reason protocol.EndReason) {
	if l.ended {
		return
	}
	l.ended, l.endedFor = true, reason
	if reason != "" && (l.role == roleCaller || l.alerted) {
		l.party.Ended(reason, c.duration())
	}
	if l.media != nil {
		_ = l.media.Close()
	}
}

func (c *Call) duration() *int {
	if c.answeredAt.IsZero() {
		return nil
	}
	d := int(math.Round(time.Since(c.answeredAt).Seconds()))
	return &d
}

// end finishes the call: every leg still up hears reason, media closes,
// the record is closed.
func (c *Call) end(reason protocol.EndReason) {
	if c.state == StateEnded {
		return
	}
	c.setState(StateEnded)
	for _, t := range c.timers {
		t.Stop()
	}
	if c.bridge != nil {
		c.bridge.Stop()
	}
	c.rec.Legs = c.legStats()
	c.closeLeg(c.caller, reason)
	for _, l := range c.callees {
		c.closeLeg(l, reason)
	}
	now := time.Now().UTC()
	c.rec.EndedAt, c.rec.EndReason = &now, string(reason)
	if err := c.m.records.UpdateCallRecord(context.Background(), &c.rec); err != nil {
		c.m.log.Error("call record", "call", c.id, "err", err)
	}
	c.m.remove(c.id)
	c.done = true
}

func (c *Call) legStats() []store.LegStats {
	legs := []*leg{c.caller}
	if c.winner != nil {
		legs = append(legs, c.winner)
	}
	var out []store.LegStats
	for _, l := range legs {
		if l.media == nil {
			continue
		}
		s := l.media.Stats()
		out = append(out, store.LegStats{LegID: l.id, Role: l.role.String(), Kind: l.party.Kind(),
			Device: l.party.Key(), Codec: s.Codec, PacketsSent: s.PacketsSent,
			PacketsReceived: s.PacketsReceived, PacketsLost: s.PacketsLost, JitterMillis: s.JitterMillis})
	}
	return out
}
