package call

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/emergency"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

func TestShutdownEndsEveryCall(t *testing.T) {
	w := newWorld(t)
	a1, b1, id := connected(t, w)
	c1, d1 := w.device("sess_c1", "user_c"), w.device("sess_d1", "user_d")
	ringing := c1.dial("104")
	w.expect(d1, "incoming", "offer")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	require.NoError(t, w.m.Shutdown(ctx))
	for _, d := range []*simDevice{a1, b1, d1} {
		w.expect(d, "ended:server-shutdown")
	}
	w.expect(c1, "answer", "ringing", "ended:server-shutdown")
	require.Equal(t, "server-shutdown", w.record(id).EndReason)
	require.Equal(t, "server-shutdown", w.record(ringing).EndReason)
	c1.send(c1.create("102", "v=0")) // refused: draining
	w.expect(c1, "error:call_failed")
}

func TestDrain(t *testing.T) {
	w := newWorld(t)
	a1, b1, id := connected(t, w)
	w.m.Drain()
	c1 := w.device("sess_c1", "user_c")
	c1.send(c1.create("102", "v=0"))
	h := w.expect(c1, "error:call_failed")
	reqID, msg := errorOf(h[0])
	require.Equal(t, "req_1", reqID)
	require.Equal(t, errDraining, msg)
	_, _, err := w.m.Place(&simParty{key: "phone:x"}, Placement{Account: "acct_a", User: "user_c", Destination: "102"})
	var ce *Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, endReason("failed"), ce.Reason)

	// A consult cannot start either: the hold it took is undone.
	a1.attended(id, "104")
	w.expect(a1, "held:local", "error:call_failed", "resumed")
	w.expect(b1, "held:remote", "resumed")
	a1.hangup(id) // the live call goes on until it ends
	w.expect(b1, "ended:hangup")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	require.NoError(t, w.m.WaitIdle(ctx))
}

func TestRateLimits(t *testing.T) {
	t.Run("per socket", func(t *testing.T) {
		w := newWorld(t, func(o *Options) { o.Limits = Limits{SocketRate: 0.001, SocketBurst: 2} })
		a1, a2 := w.device("sess_a1", "user_a"), w.device("sess_a2", "user_a")
		for range 3 {
			a1.send(a1.create("*43", "v=0"))
		}
		var refusal heard
		for _, h := range w.next(a1, 7) { // the calls' frames interleave
			if h.what == "error:rate_limited" {
				refusal = h
			}
		}
		reqID, _ := errorOf(refusal)
		require.Equal(t, "req_3", reqID)
		requireLimit(t, refusal, LimitSocket)
		a2.dial("*43") // another socket has its own bucket
	})
	t.Run("per user", func(t *testing.T) {
		w := newWorld(t, func(o *Options) { o.Limits = Limits{UserRate: 0.001, UserBurst: 1} })
		a1, a2 := w.device("sess_a1", "user_a"), w.device("sess_a2", "user_a")
		a1.dial("*43")
		a2.send(a2.create("*43", "v=0"))
		requireLimit(t, w.expect(a2, "error:rate_limited")[0], LimitUser)
		_, _, err := w.m.Place(&simParty{key: "phone:a"}, Placement{Account: "acct_a", User: "user_a", Destination: "*43"})
		var le *LimitError
		require.ErrorAs(t, err, &le)
		require.ErrorIs(t, err, ErrRateLimited)
		require.Equal(t, LimitUser, le.Limit)
	})
	t.Run("per account", func(t *testing.T) {
		w := newWorld(t, func(o *Options) { o.Limits = Limits{MaxPerAccount: 1} })
		a1, b1 := w.device("sess_a1", "user_a"), w.device("sess_b1", "user_b")
		id := a1.dial("*43")
		b1.send(b1.create("*43", "v=0"))
		requireLimit(t, w.expect(b1, "error:rate_limited")[0], LimitAccount)
		a1.hangup(id)
		w.checkFor(func() bool { return w.m.lim.count("acct_a") == 0 }, "the account's place back")
		b1.dial("*43") // the place is free again
	})
}

func TestFramesForNoCall(t *testing.T) {
	w := newWorld(t)
	a1, b1, id := connected(t, w)
	stranger := w.device("sess_x", "user_c")
	stranger.hangup(id)
	w.expect(stranger, "error:call_not_found")
	a1.hangup("call_nope")
	w.expect(a1, "error:call_not_found")
	a1.candidate("call_nope", "candidate:1") // advisory: no error
	w.quiet(a1, b1, stranger)
	a1.callerID("+12125550100")
	w.expect(a1, "error:invalid_message")
}

// The call record, from start to end, through the store.
func TestCallRecord(t *testing.T) {
	w := newWorld(t)
	a1, b1, id := connected(t, w)
	rec := w.record(id)
	require.Equal(t, store.CallRecord{ID: id, AccountID: "acct_a", Direction: "internal", FromUserID: "user_a",
		ToUserID: "user_b", From: "101", FromName: "Alice", To: "102", AnsweredBy: "sess_b1",
		StartedAt: rec.StartedAt, AnsweredAt: rec.AnsweredAt}, rec)
	require.NotNil(t, rec.AnsweredAt)
	b1.hangup(id)
	w.expect(a1, "ended:hangup")
	rec = w.record(id)
	require.NotNil(t, rec.EndedAt)
	require.Equal(t, "hangup", rec.EndReason)
	require.Len(t, rec.Legs, 2)
	require.Equal(t, store.LegStats{LegID: rec.Legs[0].LegID, Role: "caller", Kind: "webrtc", Device: "sess_a1",
		Codec: "PCMU", PacketsSent: 10, PacketsReceived: 9, EndReason: "hangup", UserID: "user_a"}, rec.Legs[0])
}

// ckRecords also keeps checkpoints.
type ckRecords struct {
	*memRecords
	mu  sync.Mutex
	cps []store.CallCheckpoint
}

func (r *ckRecords) CheckpointCallRecord(_ context.Context, _ ident.CallID, cp store.CallCheckpoint) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cps = append(r.cps, cp)
	return nil
}

func (r *ckRecords) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.cps)
}

func TestCheckpoints(t *testing.T) {
	w := newWorld(t)
	ck := &ckRecords{memRecords: w.recs}
	w.m.records = ck
	a1, b1, id := connected(t, w)
	require.Equal(t, 0, ck.count())
	w.tick(checkpointInterval)
	require.Equal(t, 1, ck.count())
	require.Len(t, ck.cps[0].Legs, 2)
	require.NotNil(t, ck.cps[0].LastMediaAt)
	w.tick(checkpointInterval)
	require.Equal(t, 2, ck.count())
	require.Equal(t, ck.cps[0].LastMediaAt, ck.cps[1].LastMediaAt, "no packets since: media was last seen at the first")
	a1.hangup(id)
	w.expect(b1, "ended:hangup")
	w.tick(checkpointInterval)
	require.Equal(t, 2, ck.count(), "no checkpoint after the end")
}

// simObserver counts what the metrics see.
type simObserver struct {
	mu     sync.Mutex
	events []string
}

func (o *simObserver) add(s string) {
	o.mu.Lock()
	o.events = append(o.events, s)
	o.mu.Unlock()
}
func (o *simObserver) CallStarted(dir string)                   { o.add("started:" + dir) }
func (o *simObserver) CallAnswered(dir string, _ time.Duration) { o.add("answered:" + dir) }
func (o *simObserver) CallRefused(limit string)                 { o.add("refused:" + limit) }
func (o *simObserver) seen() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.events...)
}

func TestObserver(t *testing.T) {
	obs := &simObserver{}
	w := newWorld(t, func(o *Options) { o.Observer = obs; o.Limits = Limits{MaxPerAccount: 1} })
	a1, b1, id := connected(t, w)
	b1.send(b1.create("*43", "v=0"))
	w.expect(b1, "error:rate_limited")
	a1.hangup(id)
	w.noCalls()
	require.Equal(t, []string{"started:internal", "answered:internal", "refused:account", "ended:internal:hangup:2"}, obs.seen())
}

// simActivity records users' parts.
type simActivity struct {
	mu    sync.Mutex
	parts []string
}

func (a *simActivity) UserPartChanged(p UserPart) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := string(p.User) + ":" + p.State.String()
	if p.Initiator {
		s += ":initiator"
	}
	a.parts = append(a.parts, s+":"+p.Remote)
}

func (a *simActivity) seen() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.parts...)
}

func TestActivity(t *testing.T) {
	act := &simActivity{}
	w := newWorld(t, func(o *Options) { o.Activity = act })
	a1, b1, b2, _, id := ringAll(t, w, false)
	b1.answer(id)
	w.expect(b2, "ended:answered-elsewhere")
	a1.hangup(id)
	w.noCalls()
	a, b := byUser(act.seen())
	require.Equal(t, []string{"user_a:early:initiator:", "user_a:early:initiator:102",
		"user_a:confirmed:initiator:102", "user_a:terminated:initiator:102"}, a,
		"the caller's remote is what is dialled once routed, then who answered")
	require.Equal(t, []string{"user_b:early:101", "user_b:confirmed:101", "user_b:terminated:101"}, b)
}

// byUser splits the reports into user_a's and the others' (within one
// actor turn, users are reported in map order).
func byUser(in []string) (a, b []string) {
	for _, s := range in {
		if s[:6] == "user_a" {
			a = append(a, s)
		} else {
			b = append(b, s)
		}
	}
	return a, b
}

func TestEmergencyCalls(t *testing.T) {
	t.Run("an address is required for numbers outside", func(t *testing.T) {
		w := newWorld(t)
		w.dir.addressRequired = true
		a1 := w.device("sess_a1", "user_a")
		a1.send(a1.create("+12125550100", "v=0"))
		h := w.expect(a1, "trying", "answer", "error:emergency_address_required", "ended:failed")
		reqID, _ := errorOf(h[2])
		require.Equal(t, "req_1", reqID)
	})
	t.Run("emergency calls carry the bound address", func(t *testing.T) {
		w := newWorld(t)
		w.dir.addressRequired = true
		a1 := w.device("sess_a1", "user_a")
		w.mu.Lock()
		a1.loc = &emergency.Location{AddressID: "addr_1"}
		w.mu.Unlock()
		a1.send(a1.create("911", "v=0"))
		trunk := w.sipParty("trunk:911", 0)
		require.True(t, trunk.req.Emergency)
		require.Equal(t, "addr_1", trunk.req.Location.AddressID)
		w.mu.Lock()
		a1.loc = nil
		w.mu.Unlock()
		a1.send(a1.create("+12125550100", "v=0"))
		got := whats(w.next(a1, 6))
		require.Equal(t, []string{"answer", "answer", "ended:failed", "error:emergency_address_required", "trying", "trying"},
			sorted(got[:2], got[2:]...))
	})
	t.Run("SIP phones need no address", func(t *testing.T) {
		w := newWorld(t)
		w.dir.addressRequired = true
		p := &simParty{key: "phone:a"}
		_, _, err := w.m.Place(p, Placement{Account: "acct_a", User: "user_a", Destination: "+12125550100", SDP: "v=0"})
		require.NoError(t, err)
		w.expect(w.sipParty("trunk:", 0), "incoming")
	})
}

// sorted joins the lists and sorts them.
func sorted(a []string, b ...string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return out
}
