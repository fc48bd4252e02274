package call

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/route"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// Manager holds the live calls and routes devices' commands to them.
type Manager struct {
	media   Media
	dir     Directory
	devices Devices
	phones  Phones
	trunks  Trunks
	records store.CallRecords
	// recorder records calls (recording.go); nil: none.
	recorder Recorder
	opt      Options
	log      *slog.Logger
	lim      *limits
	reqs     *reqCalls // req_ids standing for calls (early trickle)

	mu       sync.Mutex
	calls    map[ident.CallID]*Call // a call joined into another maps to that one
	outbound map[ident.AccountID]int
	draining bool
	wg       sync.WaitGroup
	pending  atomic.Int64 // async work in flight (tests wait for none)
	// onIllegal, when set (tests), hears every illegal state transition.
	onIllegal func(error)
}

// NewManager returns a manager; Shutdown stops it.
func NewManager(media Media, dir Directory, devices Devices, records store.CallRecords, opt Options, log *slog.Logger) *Manager {
	if opt.RingTimeout <= 0 {
		opt.RingTimeout = 30 * time.Second
	}
	if opt.MediaTimeout <= 0 {
		opt.MediaTimeout = 10 * time.Second
	}
	if opt.AnswerTimeout <= 0 {
		opt.AnswerTimeout = 10 * time.Second
	}
	if opt.Clock == nil {
		opt.Clock = realClock{}
	}
	return &Manager{media: media, dir: dir, devices: devices, records: records, opt: opt, log: log,
		lim: newLimits(opt.Limits), reqs: newReqCalls(time.Now),
		calls: map[ident.CallID]*Call{}, outbound: map[ident.AccountID]int{}}
}

// SetPhones adds registered SIP phones to ring-all (before serving calls).
func (m *Manager) SetPhones(p Phones) { m.phones = p }

// SetTrunks routes E.164 numbers the account does not own to trunks
// (before serving calls).
func (m *Manager) SetTrunks(t Trunks) { m.trunks = t }

// Command takes a device's command for the call it knows as id (a call
// id, or the req_id of the request that created the call). It never
// blocks on a call: the command is posted to the call's actor.
func (m *Manager) Command(dev Device, id ident.CallID, cmd Command) {
	c := m.memberCall(dev, id)
	if c == nil {
		c = m.byReqID(dev, id, cmd)
	}
	if c == nil {
		if isTrickle(cmd) { // candidates are advisory: a stray one is no error
			m.log.Debug("trickle for no call dropped", "session", dev.SessionID(), "call_id", id)
			return
		}
		dev.Party(id).Refused(Refusal{Code: CodeNotFound, ReqID: reqIDOf(cmd), Msg: "no such call on this session"})
		return
	}
	c.post(event{dev: dev, cmd: cmd})
}

// memberCall returns the call id names when dev's session is a party to it.
func (m *Manager) memberCall(dev Device, id ident.CallID) *Call {
	c := m.lookup(id)
	if c == nil || !c.hasMember(string(dev.SessionID())) {
		return nil
	}
	return c
}

// byReqID returns the call that id, the req_id of the session's call.create
// or consult, created. A candidate under a req_id no request has used yet
// waits for it (reqCalls).
func (m *Manager) byReqID(dev Device, id ident.CallID, cmd Command) *Call {
	var cand *Candidate
	if c, ok := cmd.(Candidate); ok {
		cand = &c
	}
	callID, ok := m.reqs.route(dev.SessionID(), string(id), isTrickle(cmd), cand)
	if !ok {
		return nil
	}
	return m.memberCall(dev, callID)
}

// HasLiveCalls reports whether the device session is a party to a call
// that would be restored to it (see Call.restorable): a call it placed, or
// one that rings or was answered on it.
func (m *Manager) HasLiveCalls(sess ident.SessionID) bool {
	for _, c := range m.snapshot() {
		if !c.hasMember(string(sess)) {
			continue
		}
		live := make(chan bool, 1)
		c.post(event{fn: func() { live <- c.restorable(string(sess)) }})
		select {
		case ok := <-live:
			if ok {
				return true
			}
		case <-c.ctx.Done():
		case <-time.After(2 * time.Second):
			m.log.Warn("call did not answer a liveness query in time", "call", c.id)
		}
	}
	return false
}

// DeviceGone ends the device's part in every call: its session is over.
func (m *Manager) DeviceGone(dev Device) {
	m.reqs.forget(dev.SessionID())
	for _, c := range m.snapshot() {
		if c.hasMember(string(dev.SessionID())) {
			c.post(event{dev: dev, gone: true})
		}
	}
}

// Restore sends call.restored for each of the device's live calls after its
// session resumed. It waits (briefly) for each call so that the frames go
// out before anything kept while the socket was down.
func (m *Manager) Restore(dev Device) { m.restore(dev, false, false) }

func (m *Manager) restore(dev Device, rehome, quiet bool) {
	for _, c := range m.snapshot() {
		if !c.hasMember(string(dev.SessionID())) {
			continue
		}
		done := make(chan struct{})
		c.post(event{dev: dev, restore: done, rehome: rehome, quiet: quiet})
		select {
		case <-done:
		case <-c.ctx.Done():
		case <-time.After(2 * time.Second):
			m.log.Warn("call did not answer a restore in time", "call_id", c.id)
		}
	}
}

// Create places the call a device asks for; the device hears Trying, or
// why not. It never blocks on a call.
func (m *Manager) Create(dev Device, cr Create) {
	if err := m.lim.allow(dev.SessionID(), dev.User(), time.Now()); err != nil {
		m.refused(dev, err, cr.ReqID)
		return
	}
	if cr.CallerID != "" && !m.ownsNumber(dev.Account(), cr.CallerID) {
		dev.Party("").Refused(Refusal{Code: CodeInvalid, ReqID: cr.ReqID,
			Msg: "caller_id must be an E.164 number your account owns"})
		return
	}
	if m.pickupElsewhere(dev, cr) { // to the node a slot is parked on (park.go)
		return
	}
	if m.overflow(dev, cr) { // handed to a node with room (ceiling.go)
		return
	}
	m.startCall(dev, cr, nil)
}

// startCall starts the call msg asks for; original is set for the consult
// call of an attended transfer. It returns nil when the server is
// stopping (the device has been told).
func (m *Manager) startCall(dev Device, cr Create, original *Call) *Call {
	m.mu.Lock()
	if m.draining {
		m.mu.Unlock()
		dev.Party("").Refused(Refusal{Code: CodeFailed, ReqID: cr.ReqID, Msg: errDraining})
		return nil
	}
	if err := m.lim.start(dev.Account(), m.ParkedHere(dev.Account(), cr.Destination)); err != nil {
		m.mu.Unlock()
		m.refused(dev, err, cr.ReqID)
		return nil
	}
	c := newCall(m, dev, cr)
	c.original = original
	m.calls[c.id] = c
	m.wg.Add(1)
	m.mu.Unlock()
	// Before the actor runs: candidates trickled under the req_id wait on
	// the caller's leg for its description, as trickled ones do.
	c.caller.cands = m.reqs.bind(dev.SessionID(), cr.ReqID, c.id)
	dev.Party(c.id).Trying(cr.ReqID)
	go func() {
		defer m.wg.Done()
		defer m.lim.done(c.account)
		c.run()
	}()
	return c
}

// join makes every call id that reached from reach into (a transfer
// joined from's surviving leg into into). When into has already ended
// (and been removed) the ids are forgotten instead of left pointing at it.
func (m *Manager) join(from, into *Call) {
	m.mu.Lock()
	defer m.mu.Unlock()
	live := false
	for _, c := range m.calls {
		live = live || c == into
	}
	for id, c := range m.calls {
		switch {
		case c != from:
		case live:
			m.calls[id] = into
		default:
			delete(m.calls, id)
		}
	}
}

// alias makes id reach c too.
func (m *Manager) alias(id ident.CallID, c *Call) {
	m.mu.Lock()
	m.calls[id] = c
	m.mu.Unlock()
}

// callWithMember returns the live call, other than except, where key is a
// party (the call a SIP Replaces names).
func (m *Manager) callWithMember(key string, except *Call) *Call {
	for _, c := range m.snapshot() {
		if c != except && c.hasMember(key) && c.ctx.Err() == nil {
			return c
		}
	}
	return nil
}

// outboundStart counts an outbound trunk leg against the account's cap;
// it returns false when the cap is reached.
func (m *Manager) outboundStart(acct ident.AccountID) bool {
	limit := 0
	if p, err := m.dir.GetDialPlan(context.Background(), acct); err == nil {
		limit = p.MaxOutboundCalls
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if limit > 0 && m.outbound[acct] >= limit {
		return false
	}
	m.outbound[acct]++
	return true
}

// outboundDone releases an outbound trunk leg.
func (m *Manager) outboundDone(acct ident.AccountID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.outbound[acct]--; m.outbound[acct] <= 0 {
		delete(m.outbound, acct)
	}
}

// trunkInfos lists the trunks for routing.
func (m *Manager) trunkInfos() []route.TrunkInfo {
	if m.trunks == nil {
		return nil
	}
	return m.trunks.Infos()
}

func (m *Manager) ownsNumber(acct ident.AccountID, number string) bool {
	if !route.ValidE164(number) {
		return false
	}
	n, err := m.dir.GetPhoneNumberByNumber(context.Background(), number)
	return err == nil && n.AccountID == acct
}

func (m *Manager) lookup(id ident.CallID) *Call {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[id]
}

// snapshot lists the live calls, each once.
func (m *Manager) snapshot() []*Call {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Call, 0, len(m.calls))
	seen := make(map[*Call]bool, len(m.calls))
	for _, c := range m.calls {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// remove forgets c under every id that reaches it.
func (m *Manager) remove(c *Call) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, o := range m.calls {
		if o == c {
			delete(m.calls, id)
		}
	}
}

// Count returns the number of live calls.
func (m *Manager) Count() int { return len(m.snapshot()) }

// Shutdown ends every call (reason server-shutdown, for devices and the
// record) and waits for the actors until ctx is done.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.Drain()
	for _, c := range m.snapshot() {
		c.post(event{shutdown: true})
	}
	if err := m.WaitIdle(ctx); err != nil {
		return errors.Join(err, errors.New("calls still running"))
	}
	return nil
}

// errDraining is what a call refused while draining is told.
const errDraining = "server is shutting down: new calls are refused here, try again on another server or shortly"

// Drain refuses new calls (call.create, SIP INVITEs) while the live ones
// go on; Shutdown ends those.
func (m *Manager) Drain() {
	m.mu.Lock()
	m.draining = true
	m.mu.Unlock()
}

// WaitIdle waits until every call has ended (after Drain, none starts),
// or ctx is done.
func (m *Manager) WaitIdle(ctx context.Context) error {
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
