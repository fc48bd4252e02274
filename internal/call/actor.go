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

	applied   string                   // the remote answer applied to media (SIP callees)
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
	inbound    bool // from a trunk: the account's numbers only
	from       string
	fromName   string
	ringSent   bool               // the caller heard call.ringing
	earlyLeg   *leg               // the callee whose early media c.bridge carries
	failure    protocol.EndReason // why the last unreachable callee failed, when it knew
}

// outboundRingLimit bounds how long a call to a trunk may ring: the far
// network usually gives up first.
const outboundRingLimit = 3 * time.Minute

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
		account: pl.Account, fromUser: pl.User, inbound: pl.Inbound, from: pl.From, fromName: pl.FromName}
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
	if c.inbound {
		c.rec.Direction, c.rec.From, c.rec.FromName = "inbound", c.from, c.fromName
	} else if u, err := c.m.dir.GetUser(c.ctx, c.fromUser); err == nil {
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

// route resolves the destination to a user and rings their devices, or
// to a trunk.
func (c *Call) route() {
	if c.state == StateEnded {
		return
	}
	user, trunkNumber, reason := c.resolve()
	if trunkNumber != "" {
		c.routeTrunk(trunkNumber)
		return
	}
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

// resolve finds the user the destination reaches, or the E.164 number to
// call through a trunk (one the account does not own; never for a call
// that came in from a trunk).
func (c *Call) resolve() (user *store.User, trunkNumber string, reason protocol.EndReason) {
	dest, err := route.Parse(c.create.Destination)
	if err != nil {
		return nil, "", protocol.EndFailed
	}
	acct := c.account
	switch dest.Kind {
	case route.KindExtension:
		if c.inbound {
			return nil, "", protocol.EndFailed
		}
		u, err := c.m.dir.GetUserByExtension(c.ctx, acct, dest.Number)
		if err != nil {
			return nil, "", protocol.EndFailed
		}
		return u, "", ""
	case route.KindE164:
		n, err := c.m.dir.GetPhoneNumberByNumber(c.ctx, dest.Number)
		switch {
		case err == nil && n.AccountID == acct:
		case (err == nil || errors.Is(err, store.ErrNotFound)) && !c.inbound && c.m.trunks != nil:
			return nil, dest.Number, ""
		default:
			return nil, "", protocol.EndFailed
		}
		if n.UserID == "" {
			return nil, "", protocol.EndFailed
		}
		u, err := c.m.dir.GetUser(c.ctx, n.UserID)
		if err != nil {
			return nil, "", protocol.EndFailed
		}
		return u, "", ""
	}
	return nil, "", protocol.EndFailed
}

// routeTrunk calls number through the trunks that carry it.
func (c *Call) routeTrunk(number string) {
	p := c.m.trunks.TrunkParty(c.account, number, c.create.CallerID, remote{c})
	if p == nil {
		c.end(protocol.EndFailed)
		return
	}
	c.rec.Direction = "outbound"
	c.ring(p)
	if len(c.callees) == 0 {
		c.end(protocol.EndFailed)
		return
	}
	c.ringTimer = c.after(outboundRingLimit, func() {
		if c.state == StateTrying || c.state == StateRinging {
			c.end(protocol.EndNoAnswer)
		}
	})
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
	}
	if s, ok := l.party.(SelfAlerting); !ok || !s.AlertsItself() {
		c.notifyRinging()
	}
}

// notifyRinging tells the caller, once, that the call is alerting.
func (c *Call) notifyRinging() {
	if c.ringSent || c.state != StateRinging {
		return
	}
	c.ringSent = true
	c.caller.party.Ringing()
}

// earlyMedia applies a callee's provisional answer (a 183 with SDP) and
// bridges it to the caller one way, so the caller hears the far network's
// ringback or announcements before the answer. The caller's own audio is
// not sent before the answer.
func (c *Call) earlyMedia(l *leg, sdp string) {
	if l.role != roleCallee || c.state != StateRinging || c.winner != nil || (c.earlyLeg != nil && c.earlyLeg != l) {
		return
	}
	if err := c.applyAnswer(l, sdp); err != nil {
		c.m.log.Warn("early media", "call", c.id, "err", err)
		return
	}
	if c.bridge == nil {
		br, err := c.m.media.Bridge(c.caller.media, l.media)
		if err != nil {
			c.m.log.Warn("early media", "call", c.id, "err", err)
			return
		}
		c.bridge, c.earlyLeg = br, l
	}
	c.bridge.SetFeeds(FeedForward, FeedSilence)
	c.notifyRinging()
}

// applyAnswer applies a callee's answer to the server's offer. A SIP
// callee may describe its media again (the 200 after a 183, or the next
// trunk after a failover): a changed description is applied as an update.
func (c *Call) applyAnswer(l *leg, sdp string) error {
	var err error
	switch {
	case l.applied == "":
		err = l.media.SetAnswer(sdp)
	case l.applied == sdp:
		return nil
	default:
		_, err = l.media.Reoffer(c.ctx, sdp)
	}
	if err == nil {
		l.applied = sdp
	}
	return err
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
		case reason == "" && c.failure != "":
			c.end(c.failure)
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
	if l == c.earlyLeg && c.winner != l && c.bridge != nil {
		c.bridge.Stop()
		c.bridge, c.earlyLeg = nil, nil
	}
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
