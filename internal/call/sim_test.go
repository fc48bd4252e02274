package call

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/route"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// The simulated world of the behaviour tests: a real Manager with
// in-memory devices, SIP-like parties, trunks, media, records and a fake
// clock. Parties record what they were told, in order, as short strings
// ("incoming", "ended:busy", "held:local", "error:invalid_message"), so
// that tests read like the call flows they pin.

// fakeClock fires timers only when a test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Duration
	timers []*fakeTimer
}

type fakeTimer struct {
	c      *fakeClock
	at     time.Duration
	f      func()
	active bool
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now + d, f: f, active: true}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.active = false
	return was
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.active, t.at = true, t.c.now+d
	if !slices.Contains(t.c.timers, t) {
		t.c.timers = append(t.c.timers, t)
	}
	return was
}

// advance moves the clock on by d, firing due timers in order.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	end := c.now + d
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next *fakeTimer
		for _, t := range c.timers {
			if t.active && t.at <= end && (next == nil || t.at < next.at) {
				next = t
			}
		}
		if next == nil {
			c.now = end
			c.mu.Unlock()
			return
		}
		next.active = false
		c.now = max(c.now, next.at)
		c.mu.Unlock()
		next.f()
	}
}

// heard is one thing a party was told.
type heard struct {
	call string // the call id the party knows ("" for SIP parties)
	what string
	info any // details: the frame, or the Info of an incoming call
}

// ear records what a party hears.
type ear struct {
	mu     sync.Mutex
	log    []heard
	cursor int
}

func (e *ear) hear(h heard) {
	e.mu.Lock()
	e.log = append(e.log, h)
	e.mu.Unlock()
}

func (e *ear) snapshot() []heard {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.log)
}

func whats(hs []heard) []string {
	out := make([]string, len(hs)) // never nil
	for i, h := range hs {
		out[i] = h.what
	}
	return out
}

// simParty is a SIP-like party (a desk phone or trunk call): it reports
// through the Remote it was given.
type simParty struct {
	ear
	key      string
	alerts   bool // reports its own alerting (a trunk)
	remote   Remote
	req      TrunkRequest
	mediaErr error
}

func (p *simParty) Key() string                   { return p.key }
func (p *simParty) Kind() string                  { return "sip" }
func (p *simParty) AlertsItself() bool            { return p.alerts }
func (p *simParty) Incoming(i Info, offer string) { p.hear(heard{what: "incoming", info: i}) }
func (p *simParty) Answer(string)                 { p.hear(heard{what: "answer"}) }
func (p *simParty) Ringing()                      { p.hear(heard{what: "ringing"}) }
func (p *simParty) Answered(time.Time)            { p.hear(heard{what: "answered"}) }
func (p *simParty) Resumed()                      { p.hear(heard{what: "resumed"}) }
func (p *simParty) Forbidden()                    { p.hear(heard{what: "forbidden"}) }
func (p *simParty) NewMedia(m Media, id ident.LegID) (LegMedia, error) {
	if p.mediaErr != nil {
		return nil, p.mediaErr
	}
	return m.NewRTP(id)
}

// memRecords keeps each call record as last written.
type memRecords struct {
	mu   sync.Mutex
	recs map[ident.CallID]store.CallRecord
	n    int // writes
	q    map[ident.CallID][]store.LegQuality
}

func (r *memRecords) put(rec *store.CallRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := *rec
	c.Legs = slices.Clone(rec.Legs)
	r.recs[rec.ID] = c
	r.n++
	return nil
}

func (r *memRecords) CreateCallRecord(_ context.Context, rec *store.CallRecord) error {
	return r.put(rec)
}
func (r *memRecords) UpdateCallRecord(_ context.Context, rec *store.CallRecord) error {
	return r.put(rec)
}
func (r *memRecords) GetCallRecord(_ context.Context, id ident.CallID) (*store.CallRecord, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.recs[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	return &rec, nil
}
func (r *memRecords) ListCallRecords(context.Context, store.CallFilter) ([]store.CallRecord, bool, error) {
	return nil, false, nil
}
func (r *memRecords) CloseOpenCallRecords(context.Context, string, time.Time) (int, error) {
	return 0, nil
}

// simDir is the directory: users by extension, follow-me, ring groups,
// the account's numbers.
type simDir struct {
	mu      sync.Mutex
	users   map[string]*store.User // by extension
	follow  map[ident.UserID]*store.FollowMe
	groups  map[string]*store.RingGroup // by extension
	numbers map[string]*store.PhoneNumber
	// addressRequired: calls out need a bound emergency address.
	addressRequired bool
}

func newSimDir() *simDir {
	d := &simDir{users: map[string]*store.User{}, follow: map[ident.UserID]*store.FollowMe{},
		groups: map[string]*store.RingGroup{}, numbers: map[string]*store.PhoneNumber{}}
	for _, u := range []struct{ ext, id, name string }{
		{"101", "user_a", "Alice"}, {"102", "user_b", "Bob"}, {"103", "user_c", "Carol"},
		{"104", "user_d", "Dave"}, {"105", "user_e", "Erin"},
	} {
		d.users[u.ext] = &store.User{ID: ident.UserID(u.id), AccountID: "acct_a", Extension: u.ext, Name: u.name,
			CanCallExternal: true, RingTimeoutSeconds: 20}
	}
	return d
}

func (d *simDir) GetUser(_ context.Context, id ident.UserID) (*store.User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, u := range d.users {
		if u.ID == id {
			c := *u
			return &c, nil
		}
	}
	return nil, store.ErrNotFound
}

func (d *simDir) GetUserByExtension(_ context.Context, _ ident.AccountID, ext string) (*store.User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if u, ok := d.users[ext]; ok {
		c := *u
		return &c, nil
	}
	return nil, store.ErrNotFound
}

func (d *simDir) GetPhoneNumberByNumber(_ context.Context, n string) (*store.PhoneNumber, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p, ok := d.numbers[n]; ok {
		return p, nil
	}
	return nil, store.ErrNotFound
}

func (d *simDir) GetRingGroup(_ context.Context, id ident.RingGroupID) (*store.RingGroup, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, g := range d.groups {
		if g.ID == id {
			return g, nil
		}
	}
	return nil, store.ErrNotFound
}

func (d *simDir) GetRingGroupByExtension(_ context.Context, _ ident.AccountID, ext string) (*store.RingGroup, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if g, ok := d.groups[ext]; ok {
		return g, nil
	}
	return nil, store.ErrNotFound
}

func (d *simDir) GetDialPlan(_ context.Context, acct ident.AccountID) (*store.DialPlan, error) {
	p := store.DefaultDialPlan(acct)
	p.MaxOutboundCalls = 2
	d.mu.Lock()
	p.EmergencyAddressRequired = d.addressRequired
	d.mu.Unlock()
	return p, nil
}

func (d *simDir) GetFollowMe(_ context.Context, u ident.UserID) (*store.FollowMe, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if f, ok := d.follow[u]; ok {
		return f, nil
	}
	return nil, store.ErrNotFound
}

// setUser changes a user under the directory's lock.
func (d *simDir) setUser(ext string, f func(u *store.User)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(d.users[ext])
}

// world is one simulated server.
type world struct {
	t      *testing.T
	m      *Manager
	clock  *fakeClock
	dir    *simDir
	media  *simMedia
	recs   *memRecords
	mu     sync.Mutex
	devs   []*simDevice
	sip    []*simParty // desk phones and trunk calls, as made
	phones map[ident.UserID]int
	nsip   int
}

// deskRinging starts a world where alice (sess_a1) dials 102 and bob's one
// desk phone is alerted.
func deskRinging(t *testing.T) (*world, *simDevice, *simParty) {
	w := newWorld(t)
	w.phones["user_b"] = 1
	a1 := w.device("sess_a1", "user_a")
	a1.dial("102")
	desk := w.sipParty("phone:user_b", 0)
	w.expect(desk, "incoming")
	return w, a1, desk
}

// newWorld starts a manager; tweak adjusts its options.
func newWorld(t *testing.T, tweak ...func(*Options)) *world {
	w := &world{t: t, clock: &fakeClock{}, dir: newSimDir(), media: &simMedia{},
		recs: &memRecords{recs: map[ident.CallID]store.CallRecord{}}, phones: map[ident.UserID]int{}}
	opt := Options{RingTimeout: 30 * time.Second, Clock: w.clock}
	for _, f := range tweak {
		f(&opt)
	}
	w.m = NewManager(w.media, w.dir, simDevices{w}, w.recs, opt, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var illegal []error
	w.m.onIllegal = func(err error) {
		w.mu.Lock()
		illegal = append(illegal, err)
		w.mu.Unlock()
	}
	w.m.SetPhones(simPhones{w})
	w.m.SetTrunks(simTrunks{w})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, w.m.Shutdown(ctx))
		w.mu.Lock()
		defer w.mu.Unlock()
		require.Empty(t, illegal, "illegal state transitions")
	})
	return w
}

type simDevices struct{ w *world }

func (d simDevices) UserDevices(u ident.UserID) []Device {
	d.w.mu.Lock()
	defer d.w.mu.Unlock()
	var out []Device
	for _, dev := range d.w.devs {
		if dev.user == u && !dev.offline {
			out = append(out, dev)
		}
	}
	return out
}

type simPhones struct{ w *world }

func (p simPhones) CalleeParties(u ident.UserID, r Remote) []Party {
	p.w.mu.Lock()
	n := p.w.phones[u]
	p.w.mu.Unlock()
	var out []Party
	for i := range n {
		out = append(out, p.w.newSIP(fmt.Sprintf("phone:%s:%d", u, i), false, r, TrunkRequest{}))
	}
	return out
}

type simTrunks struct{ w *world }

func (s simTrunks) TrunkParty(req TrunkRequest, r Remote) Party {
	if strings.HasSuffix(req.Number, "0000") { // no trunk carries it after all
		return nil
	}
	return s.w.newSIP("trunk:"+req.Number, true, r, req)
}

func (s simTrunks) Infos() []route.TrunkInfo {
	return []route.TrunkInfo{{Name: "t1", Prefixes: []string{"+"}}}
}

func (w *world) newSIP(key string, alerts bool, r Remote, req TrunkRequest) *simParty {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.nsip++
	p := &simParty{key: fmt.Sprintf("%s#%d", key, w.nsip), alerts: alerts, remote: r, req: req}
	w.sip = append(w.sip, p)
	return p
}

// sipParty returns the n-th SIP party made whose key starts with prefix.
func (w *world) sipParty(prefix string, n int) *simParty {
	w.t.Helper()
	var p *simParty
	w.checkFor(func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		i := 0
		for _, s := range w.sip {
			if strings.HasPrefix(s.key, prefix) {
				if i == n {
					p = s
					return true
				}
				i++
			}
		}
		return false
	}, "SIP party %s #%d", prefix, n)
	return p
}

// checkFor polls cond until it holds (the actor runs on its own goroutine).
func (w *world) checkFor(cond func() bool, format string, a ...any) {
	w.t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out waiting for "+format, a...)
		}
		time.Sleep(time.Millisecond)
	}
}

// settle waits until no actor has anything left to do: no async work in
// flight and every live call's queue drained, twice in a row.
func (w *world) settle() {
	w.t.Helper()
	for calm := 0; calm < 2; {
		w.checkFor(func() bool { return w.m.pending.Load() == 0 }, "async work")
		for _, c := range w.m.snapshot() {
			w.barrier(c)
		}
		if w.m.pending.Load() == 0 {
			calm++
		} else {
			calm = 0
		}
	}
}

// tick advances the fake clock and settles.
func (w *world) tick(d time.Duration) {
	w.t.Helper()
	w.settle()
	w.clock.advance(d)
	w.settle()
}

// expect waits for the party's next len(want) reports and requires them.
func (w *world) expect(e partyEar, want ...string) []heard {
	w.t.Helper()
	x := e.ears()
	var got []heard
	w.checkFor(func() bool {
		x.mu.Lock()
		defer x.mu.Unlock()
		if len(x.log)-x.cursor < len(want) {
			return false
		}
		got = slices.Clone(x.log[x.cursor : x.cursor+len(want)])
		x.cursor += len(want)
		return true
	}, "%s to hear %v (heard %v)", e.name(), want, lazyWhats{x})
	require.Equal(w.t, append([]string{}, want...), whats(got), "%s heard", e.name())
	return got
}

// next waits for the party's next n reports, whatever they are.
func (w *world) next(e partyEar, n int) []heard {
	w.t.Helper()
	x := e.ears()
	var got []heard
	w.checkFor(func() bool {
		x.mu.Lock()
		defer x.mu.Unlock()
		if len(x.log)-x.cursor < n {
			return false
		}
		got = slices.Clone(x.log[x.cursor : x.cursor+n])
		x.cursor += n
		return true
	}, "%s to hear %d more (heard %v)", e.name(), n, lazyWhats{x})
	return got
}

// barrier waits until c's actor has handled what was posted to it so far.
func (w *world) barrier(c *Call) {
	w.t.Helper()
	done := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(done) }) }
	c.post(event{fn: release, dropped: release})
	select {
	case <-done:
	case <-c.ctx.Done():
	case <-time.After(3 * time.Second):
		w.t.Fatal("a call did not run a barrier")
	}
}

// quiet settles and requires that the party heard nothing more.
func (w *world) quiet(parties ...partyEar) {
	w.t.Helper()
	w.settle()
	for _, e := range parties {
		x := e.ears()
		x.mu.Lock()
		rest := whats(x.log[x.cursor:])
		x.mu.Unlock()
		require.Empty(w.t, rest, "%s heard more", e.name())
	}
}

type lazyWhats struct{ e *ear }

func (l lazyWhats) String() string { return fmt.Sprint(whats(l.e.snapshot())) }

// partyEar is a device or a SIP party.
type partyEar interface {
	ears() *ear
	name() string
}

func (p *simParty) ears() *ear   { return &p.ear }
func (p *simParty) name() string { return p.key }

// record returns the call's record as last written.
func (w *world) record(id ident.CallID) store.CallRecord {
	w.t.Helper()
	w.settle()
	rec, err := w.recs.GetCallRecord(context.Background(), id)
	require.NoError(w.t, err)
	return *rec
}

// ended requires that no call is left.
func (w *world) noCalls() {
	w.t.Helper()
	w.checkFor(func() bool { return w.m.Count() == 0 }, "every call to end (%d left)", w.m.Count())
}

// legUsers lists the record's legs as "role:user:reason", sorted.
func legUsers(rec store.CallRecord) []string {
	var out []string
	for _, l := range rec.Legs {
		out = append(out, fmt.Sprintf("%s:%s:%s", l.Role, l.UserID, l.EndReason))
	}
	sort.Strings(out)
	return out
}
