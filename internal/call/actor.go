package call

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/route"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// event is what others post to a call. Exactly one of its parts is set.
// Every part but fn and shutdown follows a call that was joined into
// another by a transfer (see Call.post).
type event struct {
	dev      Device
	cmd      Command
	gone     bool            // dev's session is over
	shutdown bool            // the server is stopping
	fn       func()          // a result of the call's own async work, applied in the actor
	on       func(c *Call)   // a party's report (Remote), applied in whichever actor owns its leg
	restore  chan<- struct{} // dev reconnected: send call.restored, then close
	rehome   bool            // with restore: dev's session moved; its legs take dev's party (move.go)
	quiet    bool            // with rehome: no call.restored (the device resumed without session_id)
	// dropped runs, on the poster's or the ending actor's goroutine,
	// instead of fn when the call is over before fn could run: it
	// releases what fn would have taken over (a joined leg's media).
	dropped func()
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
	dev      Device // the party's device session, nil for SIP parties
	media    WebRTCMedia
	alerted  bool   // callee: call.incoming + sdp.offer sent
	answer   string // callee: its sdp.answer, once received
	ended    bool
	endedFor EndReason
	holding  bool // this party put the call on hold
	muted    bool // the server forwards silence in place of this party's audio
	trunk    bool // an outbound leg through a trunk (counted against the account's cap)

	user   ident.UserID // the user on the leg, when there is one
	num    string       // how the leg's party is shown to others (extension or number)
	name   string
	callID ident.CallID // the call id the party knows, when not the actor's own

	stats     MediaStats  // taken when the leg closes
	applied   string      // the remote answer applied to media (SIP callees)
	remoteSet bool        // the device's description is applied
	cands     []Candidate // trickled before that, applied after

	endedBy string // who ended the leg when not its own party (Supervisor)
}

// addCandidate applies a trickled candidate, or keeps it until the device's
// description is applied (trickling may overtake the async offer handling).
func (l *leg) addCandidate(m Candidate) error {
	if !l.remoteSet {
		if len(l.cands) < 64 {
			l.cands = append(l.cands, m)
		}
		return nil
	}
	mid, idx := m.Mid, m.Index
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
	members sync.Map             // Party.Key → struct{}: parties allowed to act on the call
	moved   atomic.Pointer[Call] // the call this one's surviving leg was joined into
	// postMu orders posts against the actor's end: posts hold it shared;
	// the ending actor takes it once to set closed, then drains events.
	postMu sync.RWMutex
	closed bool

	// owned by the actor goroutine
	state      State
	create     Create
	caller     *leg
	callees    []*leg
	winner     *leg
	bridge     Bridge
	rec        recorder // the call record's only writer (record.go)
	answeredAt time.Time
	timers     []Timer
	round      *ringRound // the round of forking under way (ringround.go)
	done       bool
	account    ident.AccountID
	fromUser   ident.UserID
	inbound    bool // from a trunk: the account's numbers only
	from       string
	fromName   string
	earlyLeg   *leg // the callee whose early media c.bridge carries

	dest     string     // what is being rung now (the destination, or a transfer's)
	planFrom route.From // who the last plan was made for
	forwards int        // forwards followed so far (a bound against loops)
	toUser   ident.UserID
	joined   []*leg       // every leg that was connected, in order, for the record
	player   Stopper      // ringback to the transferred party
	echo     Stopper      // the echo test
	xfer     *blindXfer   // a blind transfer ringing its target
	consult  *consultLink // an attended transfer's consult call (on the original)
	original *Call        // the original call this one consults for
	parked   *parking     // the slot the remaining party waits in (park.go)
	// recording is the call's recording in progress (recording.go).
	recording *activeRecording
	conf      *conference // set once calls were merged into this one (conference.go)
	merging   mergeSet    // merges (and answered adds) waiting for the other call

	emergency bool // an emergency call: the trunk cap does not apply
	trunkPref string
	recallID  ident.CallID // the id a recalled transferor's devices see
	ck        checkpoints
	q         qualitySampler            // per-leg quality windows (quality.go)
	parts     map[ident.UserID]UserPart // users' parts as last reported (activity.go)
}

// outboundRingLimit bounds how long a call to a trunk may ring: the far
// network usually gives up first.
const outboundRingLimit = 3 * time.Minute

func newCall(m *Manager, dev Device, cr Create) *Call {
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &Call{id: m.newCallID(), m: m, events: make(chan event, 64), ctx: ctx, cancel: cancel,
		state: StateTrying, create: cr, round: newRound(false)}
	c.caller = &leg{id: ident.NewLegID(), role: roleCaller, party: dev.Party(c.id), dev: dev, user: dev.User()}
	c.account, c.fromUser = dev.Account(), dev.User()
	c.members.Store(c.caller.party.Key(), struct{}{})
	return c
}

// newCallFrom is a call placed by a non-device party (a SIP phone).
func newCallFrom(m *Manager, p Party, pl Placement) *Call {
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &Call{id: m.newCallID(), m: m, events: make(chan event, 64), ctx: ctx, cancel: cancel,
		state: StateTrying, create: Create{Destination: pl.Destination, SDP: pl.SDP}, round: newRound(false),
		account: pl.Account, fromUser: pl.User, inbound: pl.Inbound, from: pl.From, fromName: pl.FromName}
	c.caller = &leg{id: ident.NewLegID(), role: roleCaller, party: p, user: pl.User}
	c.members.Store(p.Key(), struct{}{})
	return c
}

func (c *Call) hasMember(key string) bool {
	_, ok := c.members.Load(key)
	return ok
}

// post hands ev to the actor; once the call has ended it is dropped. A
// call whose leg was joined into another forwards what its parties post.
func (c *Call) post(ev event) {
	if to := c.moved.Load(); to != nil && ev.fn == nil && !ev.shutdown {
		to.post(ev)
		return
	}
	c.postMu.RLock()
	defer c.postMu.RUnlock()
	if c.closed {
		ev.drop()
		return
	}
	select {
	case c.events <- ev:
	case <-c.ctx.Done():
		ev.drop()
	}
}

func (ev event) drop() {
	if ev.dropped != nil {
		ev.dropped()
	}
}

// async runs work off the actor (media negotiation can take a while) and
// applies its result on the actor.
func (c *Call) async(work func() func()) {
	c.m.wg.Add(1)
	c.m.pending.Add(1)
	go func() {
		defer c.m.wg.Done()
		defer c.m.pending.Add(-1)
		apply := work()
		c.post(event{fn: apply})
	}()
}

// after runs fn on the actor once d has passed, unless the call ended.
func (c *Call) after(d time.Duration, fn func()) Timer {
	t := c.m.opt.Clock.AfterFunc(d, func() { c.post(event{fn: fn}) })
	c.timers = append(c.timers, t)
	return t
}

func (c *Call) run() {
	defer c.cancel(errors.New("call ended"))
	c.start()
	c.reportParts()
	for !c.done {
		ev := <-c.events
		c.handle(ev)
		c.reportParts()
	}
	c.closeQueue()
}

// closeQueue ends the actor's queue: posts from now on are dropped, and
// what was queued goes on to the call this one was joined into (its
// parties' reports) or is dropped.
func (c *Call) closeQueue() {
	c.cancel(errors.New("call ended")) // posters blocked on a full queue give up
	c.postMu.Lock()
	c.closed = true
	c.postMu.Unlock()
	to := c.moved.Load()
	for {
		select {
		case ev := <-c.events:
			if to != nil && ev.fn == nil && !ev.shutdown {
				to.post(ev)
			} else {
				ev.drop()
			}
		default:
			return
		}
	}
}

// setState moves the call to s. An edge the table does not have leaves
// the state as it is and returns ErrIllegalTransition, which is also
// logged and reported to Manager.onIllegal (tests fail on it).
func (c *Call) setState(s State) error {
	if err := checkTransition(c.state, s); err != nil {
		c.m.log.Error("call state", "call_id", c.id, "err", err)
		if c.m.onIllegal != nil {
			c.m.onIllegal(err)
		}
		return err
	}
	c.state = s
	return nil
}

func (c *Call) start() {
	rec := store.CallRecord{ID: c.id, AccountID: c.account, Direction: "internal",
		FromUserID: c.fromUser, To: c.create.Destination, StartedAt: time.Now().UTC()}
	if c.inbound {
		rec.Direction, rec.From, rec.FromName = "inbound", c.from, c.fromName
	} else if u, err := c.m.dir.GetUser(c.ctx, c.fromUser); err == nil {
		rec.From, rec.FromName = u.Extension, u.Name
	}
	c.caller.num, c.caller.name = rec.From, rec.FromName
	c.rec.started(c.ctx, c.m.records, c.m.log, rec)
	c.startCheckpoints()
	c.startQuality()
	c.logStarted()
	media, err := c.caller.party.NewMedia(c.m.media, c.caller.id)
	if err != nil {
		c.failWith(c.caller, CodeFailed, "media: "+err.Error())
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
				c.failWith(l, CodeInvalid, "sdp: "+err.Error())
				return
			}
			if err := l.described(); err != nil {
				l.party.Refused(Refusal{Code: CodeInvalid, Msg: "ice.candidate: " + err.Error()})
			}
			l.party.Answer(answer)
			c.route()
		}
	})
}

// failWith tells l why and ends the call as failed.
func (c *Call) failWith(l *leg, code ErrorCode, msg string) {
	l.party.Refused(Refusal{Code: code, Msg: msg})
	c.end(EndFailed)
}

func (c *Call) alert(l *leg, offer string, err error) {
	if l.ended || (c.state != StateTrying && c.state != StateRinging) {
		return
	}
	if err != nil {
		c.m.log.Warn("callee offer", "call_id", c.id, "err", err)
		c.dropCallee(l, "")
		return
	}
	l.alerted = true
	l.party.Incoming(c.info(), offer)
	if c.state == StateTrying {
		c.setState(StateRinging)
		c.rec.emit(store.EventCallRinging)
	}
	if s, ok := l.party.(SelfAlerting); !ok || !s.AlertsItself() {
		c.notifyRinging()
	}
}

// notifyRinging tells the caller, once, that the call is alerting.
func (c *Call) notifyRinging() {
	if c.round.told || c.state != StateRinging {
		return
	}
	c.round.told = true
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
		c.m.log.Warn("early media", "call_id", c.id, "err", err)
		return
	}
	if c.bridge == nil {
		br, err := c.m.media.Bridge(c.caller.media, l.media)
		if err != nil {
			c.m.log.Warn("early media", "call_id", c.id, "err", err)
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
// set); when no callee is left the routing moves on.
func (c *Call) dropCallee(l *leg, reason EndReason) {
	c.closeLeg(l, reason)
	if reason == EndRejected {
		c.round.rejected = true
	}
	if c.winner != nil || c.anyRinging() || c.state == StateEnded {
		return
	}
	c.nextStep()
}

func (c *Call) closeLeg(l *leg, reason EndReason) {
	if l.ended {
		return
	}
	l.ended, l.endedFor = true, reason
	if l == c.earlyLeg && c.winner != l && c.bridge != nil {
		c.bridge.Stop()
		c.bridge, c.earlyLeg = nil, nil
	}
	if reason != "" && (l == c.caller || l.role == roleCaller || l.alerted) {
		l.party.Ended(reason, c.duration())
	}
	if l.trunk {
		c.m.outboundDone(c.account)
	}
	if l.media != nil {
		l.stats = l.media.Stats()
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

// end finishes the call: the record is closed, then every leg still up
// hears reason and its media closes.
func (c *Call) end(reason EndReason) {
	if c.state == StateEnded {
		return
	}
	c.setState(StateEnded)
	for _, t := range c.timers {
		t.Stop()
	}
	c.stopRecording("", nil, false)
	if c.bridge != nil {
		c.bridge.Stop()
	}
	c.conf.stop()
	c.stopPlaying()
	c.unlink()
	c.leavePark()
	c.closeRecord(reason)
	for _, l := range c.ownLegs() {
		c.closeLeg(l, reason)
	}
	c.logEnded(reason)
	c.m.remove(c)
	c.done = true
}

// closeRecord closes the record of a call ending for reason, with its
// legs' stats as they stand. It runs before any device hears the end, so
// an app that reads its history on call.ended finds the call finished. (It
// costs the hangup one store write, which the call's goroutine made right
// after the hangup before.)
func (c *Call) closeRecord(reason EndReason) {
	for _, l := range c.ownLegs() {
		if !l.ended {
			l.endedFor = reason
		}
	}
	c.rec.ended(reason, c.legStats())
}

// ownLegs is the caller's leg, then the callees'.
func (c *Call) ownLegs() []*leg { return append([]*leg{c.caller}, c.callees...) }

func (c *Call) legStats() []store.LegStats {
	legs := c.joined
	if len(legs) == 0 { // never connected: the caller (and nobody else)
		legs = []*leg{c.caller}
	}
	var out []store.LegStats
	for _, l := range legs {
		if l.media == nil {
			continue
		}
		s := l.stats
		if !l.ended {
			s = l.media.Stats()
		}
		out = append(out, store.LegStats{LegID: l.id, Role: l.role.String(), Kind: l.party.Kind(),
			Device: l.party.Key(), Codec: s.Codec, PacketsSent: s.PacketsSent,
			PacketsReceived: s.PacketsReceived, PacketsLost: s.PacketsLost, JitterMillis: s.JitterMillis,
			BytesSent: s.BytesSent, BytesReceived: s.BytesReceived, EndReason: string(l.endedFor), EndedBy: l.endedBy, UserID: l.user, CallID: l.callID,
			Quality: c.q.summary(l.id)})
	}
	return out
}
