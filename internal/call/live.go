package call

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// LiveCall is a live call as a supervisor sees it: a snapshot its actor
// took on request (Manager.Live, Manager.LiveCall).
type LiveCall struct {
	ID      ident.CallID
	Account ident.AccountID
	State   State
	// Transferring: a blind transfer's target rings while the transferred
	// party hears ringback (State is then StateRinging).
	Transferring       bool
	Direction          string // "internal", "inbound" or "outbound"
	From, FromName, To string
	FromUser, ToUser   ident.UserID
	StartedAt          time.Time
	AnsweredAt         time.Time // zero until answered
	Legs               []LiveLeg
}

// LiveLeg is one leg of a live call that has not ended.
type LiveLeg struct {
	ID     ident.LegID
	Role   string // "caller" or "callee"
	Kind   string // "webrtc" or "sip"
	Device string // the party's key: a session id, a SIP contact or dialog
	User   ident.UserID
	// Status is "calling" (the caller before the answer), "trying" (a
	// callee not alerted yet), "ringing", "answering" or "connected".
	Status string
	Held   bool // this party put the call on hold
	Muted  bool
	Codec  string
	// Quality is the leg's latest 5-s window, nil before the first.
	Quality *store.QualitySample
}

// HasUser reports whether u placed or was called by the call, or is on one
// of its legs now.
func (lc LiveCall) HasUser(u ident.UserID) bool {
	if u == "" {
		return false
	}
	if lc.FromUser == u || lc.ToUser == u {
		return true
	}
	return slices.ContainsFunc(lc.Legs, func(l LiveLeg) bool { return l.User == u })
}

// liveTimeout bounds the wait for a call's actor to answer a supervisor's
// request.
const liveTimeout = 2 * time.Second

// Live returns a snapshot of every live call, oldest first. A call that
// does not answer in time (or ends meanwhile) is left out.
func (m *Manager) Live(ctx context.Context) []LiveCall {
	calls := m.snapshot()
	replies := make([]chan LiveCall, len(calls))
	for i, c := range calls { // ask every actor first, then collect
		replies[i] = c.askLive(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, liveTimeout)
	defer cancel()
	out := make([]LiveCall, 0, len(calls))
	for i, c := range calls {
		if lc, ok := c.awaitLive(ctx, replies[i]); ok {
			out = append(out, lc)
		}
	}
	slices.SortFunc(out, func(a, b LiveCall) int { return a.StartedAt.Compare(b.StartedAt) })
	return out
}

// LiveCall returns a snapshot of the live call id names (a call id, or an
// id that reaches it after a transfer); ok is false when there is none.
func (m *Manager) LiveCall(ctx context.Context, id ident.CallID) (LiveCall, bool) {
	c := m.lookup(id)
	if c == nil {
		return LiveCall{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, liveTimeout)
	defer cancel()
	return c.awaitLive(ctx, c.askLive(ctx))
}

// askLive posts a snapshot request to the actor; the reply comes on the
// returned channel (never, when the call ends first).
func (c *Call) askLive(ctx context.Context) chan LiveCall {
	reply := make(chan LiveCall, 1)
	c.postWithin(ctx, liveTimeout, event{fn: func() {
		if c.state != StateEnded {
			reply <- c.live()
		}
	}})
	return reply
}

func (c *Call) awaitLive(ctx context.Context, reply chan LiveCall) (LiveCall, bool) {
	select {
	case lc := <-reply:
		return lc, true
	case <-c.ctx.Done():
	case <-ctx.Done():
		c.m.log.Warn("call did not answer a live snapshot in time", "call_id", c.id)
	}
	return LiveCall{}, false
}

// postWithin posts ev unless the queue stays full for d (a stuck actor
// must not hold an HTTP request) or ctx ends; it reports whether it did.
func (c *Call) postWithin(ctx context.Context, d time.Duration, ev event) bool {
	c.postMu.RLock()
	defer c.postMu.RUnlock()
	if c.closed {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case c.events <- ev:
		return true
	case <-c.ctx.Done():
	case <-ctx.Done():
	case <-t.C:
	}
	return false
}

// live is the actor's snapshot of the call.
func (c *Call) live() LiveCall {
	rec := c.rec.record()
	lc := LiveCall{ID: c.id, Account: c.account, State: c.state, Transferring: c.xfer != nil,
		Direction: rec.Direction, From: rec.From, FromName: rec.FromName, To: rec.To,
		FromUser: rec.FromUserID, ToUser: rec.ToUserID, StartedAt: rec.StartedAt, AnsweredAt: c.answeredAt}
	for _, l := range append([]*leg{c.caller}, c.callees...) {
		if l.ended {
			continue
		}
		ll := LiveLeg{ID: l.id, Role: l.role.String(), Kind: l.party.Kind(), Device: l.party.Key(),
			User: l.user, Status: c.legStatus(l), Held: l.holding, Muted: l.muted, Quality: c.latestQuality(l.id)}
		if l.media != nil {
			ll.Codec = l.media.Stats().Codec
		}
		lc.Legs = append(lc.Legs, ll)
	}
	return lc
}

// legStatus says where l stands in the call (see LiveLeg.Status).
func (c *Call) legStatus(l *leg) string {
	switch {
	case (l == c.caller || l == c.winner) && c.connected() && c.xfer == nil:
		return "connected"
	case l == c.caller && c.parked != nil:
		return "parked"
	case l == c.caller:
		return "calling"
	case l == c.winner:
		return "answering"
	case l.alerted:
		return "ringing"
	}
	return "trying"
}

// latestQuality is leg id's latest quality window, or nil.
func (c *Call) latestQuality(id ident.LegID) *store.QualitySample {
	lq := c.q.legs[id]
	if lq == nil || len(lq.samples) == 0 {
		return nil
	}
	s := lq.samples[len(lq.samples)-1]
	return &s
}

// Supervisor errors (Manager.Supervise); each wraps one of these.
var (
	// ErrNoCall: no live call has the id.
	ErrNoCall = errors.New("no such live call")
	// ErrCallState: the call's state does not allow the request now.
	ErrCallState = errors.New("not possible in the call's state")
	// ErrNoLeg: the request names a leg or party the call does not have.
	ErrNoLeg = errors.New("no such leg")
	// ErrDestination: the destination cannot take the call.
	ErrDestination = errors.New("destination cannot take the call")
)

// Supervisor is who acts in a supervisor's requests: the leg note
// (LegStats.EndedBy) and the record's transfer note name it.
const Supervisor = "supervisor"

// SuperviseHangup ends a call for every party (reason hangup; each leg it
// ends is noted as ended by the supervisor).
type SuperviseHangup struct{}

// SuperviseTransfer blind-transfers one party of an answered call to To:
// the party named by Leg, or by Party ("caller" or "callee"), else the
// caller. The other party leaves with "transferred".
type SuperviseTransfer struct {
	To    string
	Leg   ident.LegID
	Party string
}

func (SuperviseHangup) command()   {}
func (SuperviseTransfer) command() {}

// Supervise applies a supervisor's command (SuperviseHangup,
// SuperviseTransfer) to the live call id names, and returns once the
// call's actor has: nil, or an error wrapping ErrNoCall, ErrCallState,
// ErrNoLeg or ErrDestination.
func (m *Manager) Supervise(ctx context.Context, id ident.CallID, cmd Command) error {
	c := m.lookup(id)
	if c == nil {
		return fmt.Errorf("%w: %s", ErrNoCall, id)
	}
	var apply func() error
	switch x := cmd.(type) {
	case SuperviseHangup:
		apply = c.superviseHangup
	case SuperviseTransfer:
		apply = func() error { return c.superviseTransfer(x) }
	case SuperviseRecord:
		apply = func() error { return c.superviseRecord(x) }
	default:
		return fmt.Errorf("call: %T is not a supervisor command", cmd)
	}
	reply := make(chan error, 1)
	ev := event{fn: func() {
		if c.state == StateEnded {
			reply <- fmt.Errorf("%w: %s has ended", ErrNoCall, id)
			return
		}
		reply <- apply()
	}}
	if !c.postWithin(ctx, liveTimeout, ev) {
		return fmt.Errorf("%w: %s has ended", ErrNoCall, id)
	}
	ctx, cancel := context.WithTimeout(ctx, liveTimeout)
	defer cancel()
	select {
	case err := <-reply:
		return err
	case <-c.ctx.Done():
		select { // the command itself may have ended the call
		case err := <-reply:
			return err
		default:
			return fmt.Errorf("%w: %s has ended", ErrNoCall, id)
		}
	case <-ctx.Done():
		return fmt.Errorf("call %s did not answer in time: %w", id, ctx.Err())
	}
}

// superviseHangup ends the call for everyone.
func (c *Call) superviseHangup() error {
	for _, l := range c.ownLegs() {
		if !l.ended {
			l.endedBy = Supervisor
		}
	}
	c.m.log.Info("call hung up by a supervisor", "call_id", c.id, "state", c.state)
	c.end(EndHangup)
	return nil
}

// superviseTransfer moves one party of an answered call to x.To with the
// call core's blind transfer; the other party leaves.
func (c *Call) superviseTransfer(x SuperviseTransfer) error {
	switch {
	case c.xfer != nil:
		return fmt.Errorf("%w: a transfer's target is ringing", ErrCallState)
	case !c.connected() || c.winner == nil:
		return fmt.Errorf("%w: only an answered call can be transferred (the call is %s)", ErrCallState, c.state)
	case c.consult != nil:
		return fmt.Errorf("%w: an attended transfer is in progress on this call", ErrCallState)
	case c.original != nil:
		return fmt.Errorf("%w: a consultation call cannot be transferred", ErrCallState)
	}
	moved, err := c.supervisedParty(x)
	if err != nil {
		return err
	}
	leaving := c.other(moved)
	p, msg := c.transferPlan(leaving, x.To)
	if msg != "" {
		return fmt.Errorf("%w: %s", ErrDestination, msg)
	}
	leaving.endedBy = Supervisor
	c.blindTransfer(leaving, x.To, p, Supervisor, "")
	return nil
}

// supervisedParty is the connected party x names.
func (c *Call) supervisedParty(x SuperviseTransfer) (*leg, error) {
	switch {
	case x.Leg != "":
		for _, l := range []*leg{c.caller, c.winner} {
			if l.id == x.Leg {
				return l, nil
			}
		}
		return nil, fmt.Errorf("%w: %s is not a connected leg of this call", ErrNoLeg, x.Leg)
	case x.Party == "" || x.Party == "caller":
		return c.caller, nil
	case x.Party == "callee":
		return c.winner, nil
	}
	return nil, fmt.Errorf("%w: party must be \"caller\" or \"callee\"", ErrNoLeg)
}
