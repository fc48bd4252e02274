package call

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// ringAll has a1 call Bob (102), who has two browsers and, with phone,
// a desk phone; it returns the call once everything rings.
func ringAll(t *testing.T, w *world, phone bool) (a1, b1, b2 *simDevice, desk *simParty, id ident.CallID) {
	t.Helper()
	a1, b1, b2 = w.device("sess_a1", "user_a"), w.device("sess_b1", "user_b"), w.device("sess_b2", "user_b")
	if phone {
		w.phones["user_b"] = 1
	}
	id = a1.dial("102")
	w.expect(a1, "answer", "ringing")
	w.expect(b1, "incoming", "offer")
	w.expect(b2, "incoming", "offer")
	if phone {
		desk = w.sipParty("phone:user_b", 0)
		w.expect(desk, "incoming")
	}
	return a1, b1, b2, desk, id
}

func TestRingAllOneAnswers(t *testing.T) {
	w := newWorld(t)
	a1, b1, b2, desk, id := ringAll(t, w, true)
	in := b1.snapshot()[0]
	require.Equal(t, Info{From: "101", FromName: "Alice", To: "102"}, in.info)
	require.Equal(t, string(id), in.call)

	b1.answer(id)
	w.expect(b2, "ended:answered-elsewhere")
	w.expect(desk, "ended:answered-elsewhere")
	w.expect(a1, "answered")
	w.expect(b1, "answered")
	require.Equal(t, "forward/forward", w.feeds())
	w.quiet(a1, b1, b2, desk)

	a1.hangup(id)
	w.expect(a1, "ended:hangup")
	w.expect(b1, "ended:hangup")
	w.noCalls()
	rec := w.record(id)
	require.Equal(t, "hangup", rec.EndReason)
	require.Equal(t, "sess_b1", rec.AnsweredBy)
	require.Equal(t, "internal", rec.Direction)
	require.Equal(t, ident.UserID("user_b"), rec.ToUserID)
	require.Equal(t, []string{"callee:user_b:hangup", "caller:user_a:hangup"}, legUsers(rec))
}

func TestRingAllDeskPhoneAnswers(t *testing.T) {
	w := newWorld(t)
	a1, b1, b2, desk, id := ringAll(t, w, true)
	desk.remote.Ringing(desk.key) // already ringing: the caller is told once
	desk.remote.Answered(desk.key, "desk-answer")
	w.expect(b1, "ended:answered-elsewhere")
	w.expect(b2, "ended:answered-elsewhere")
	w.expect(a1, "answered")
	w.expect(desk, "answered")
	w.quiet(a1, desk)
	desk.remote.HungUp(desk.key)
	w.expect(a1, "ended:hangup")
	w.expect(desk, "ended:hangup")
	require.Equal(t, desk.key, w.record(id).AnsweredBy)
}

// Every mix of outcomes when nobody answers.
func TestRingAllOutcomes(t *testing.T) {
	type act func(w *world, b1, b2 *simDevice, desk *simParty, id ident.CallID)
	decline := func(d int) act {
		return func(w *world, b1, b2 *simDevice, _ *simParty, id ident.CallID) {
			[]*simDevice{b1, b2}[d].reject(id, false)
		}
	}
	busy := func(d int) act {
		return func(w *world, b1, b2 *simDevice, _ *simParty, id ident.CallID) {
			[]*simDevice{b1, b2}[d].reject(id, true)
		}
	}
	deskBusy := func(w *world, _, _ *simDevice, p *simParty, _ ident.CallID) { p.remote.Rejected(p.key, true) }
	deskDecline := func(w *world, _, _ *simDevice, p *simParty, _ ident.CallID) { p.remote.Rejected(p.key, false) }
	deskFails := func(r string) act {
		return func(w *world, _, _ *simDevice, p *simParty, _ ident.CallID) { p.remote.Failed(p.key, endReason(r)) }
	}
	deskCancels := func(w *world, _, _ *simDevice, p *simParty, _ ident.CallID) { p.remote.HungUp(p.key) }
	tests := []struct {
		name string
		acts []act
		want string // what the caller hears
		b1   string // what b1 hears last ("" nothing)
	}{
		{"all decline", []act{decline(0), decline(1), deskDecline}, "ended:rejected", "ended:rejected"},
		{"all busy", []act{busy(0), busy(1), deskBusy}, "ended:busy", "ended:rejected"},
		{"one busy, others decline", []act{decline(0), busy(1), deskDecline}, "ended:busy", "ended:rejected"},
		{"hanging up a ringing call declines it", []act{decline(0), decline(1), deskCancels}, "ended:rejected", "ended:rejected"},
		{"desk fails saying why, devices decline", []act{decline(0), decline(1), deskFails("failed")}, "ended:failed", "ended:rejected"},
		{"desk fails without a reason, devices decline", []act{decline(0), decline(1), deskFails("")}, "ended:rejected", "ended:rejected"},
		{"desk fails last saying busy", []act{decline(0), decline(1), deskFails("busy")}, "ended:busy", "ended:rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			a1, b1, b2, desk, id := ringAll(t, w, true)
			for _, a := range tt.acts {
				a(w, b1, b2, desk, id)
			}
			w.expect(a1, tt.want)
			w.expect(b1, tt.b1)
			w.quiet(a1, b1)
			w.noCalls()
			require.Equal(t, tt.want[len("ended:"):], w.record(id).EndReason)
		})
	}
}

func TestRingAllTimesOut(t *testing.T) {
	w := newWorld(t)
	a1, b1, b2, desk, id := ringAll(t, w, true)
	w.tick(19 * time.Second)
	w.quiet(a1, b1, b2, desk)
	w.tick(time.Second) // Bob's ring time
	w.expect(b1, "ended:no-answer")
	w.expect(b2, "ended:no-answer")
	w.expect(desk, "ended:no-answer")
	w.expect(a1, "ended:no-answer")
	w.noCalls()
	rec := w.record(id)
	require.Equal(t, "no-answer", rec.EndReason)
	require.Nil(t, rec.AnsweredAt)
	require.Equal(t, []string{"caller:user_a:no-answer"}, legUsers(rec))
}

func TestRingAllFailures(t *testing.T) {
	t.Run("nobody to ring", func(t *testing.T) {
		w := newWorld(t)
		a1 := w.device("sess_a1", "user_a")
		id := a1.dial("102")
		w.expect(a1, "answer", "ended:no-answer")
		require.Equal(t, "no-answer", w.record(id).EndReason)
	})
	t.Run("do not disturb", func(t *testing.T) {
		w := newWorld(t)
		w.dir.setUser("102", func(u *store.User) { u.DoNotDisturb = true })
		a1, b1 := w.device("sess_a1", "user_a"), w.device("sess_b1", "user_b")
		a1.dial("102")
		w.expect(a1, "answer", "ended:busy")
		w.quiet(b1)
	})
	t.Run("unknown extension", func(t *testing.T) {
		w := newWorld(t)
		a1 := w.device("sess_a1", "user_a")
		a1.dial("199")
		w.expect(a1, "answer", "error:call_failed", "ended:failed")
	})
	t.Run("the caller's offer is bad", func(t *testing.T) {
		w := newWorld(t)
		a1, b1 := w.device("sess_a1", "user_a"), w.device("sess_b1", "user_b")
		a1.send(a1.create("102", "bad"))
		w.expect(a1, "trying", "error:invalid_message", "ended:failed")
		w.quiet(b1)
	})
	t.Run("a callee's sdp.answer is bad", func(t *testing.T) {
		w := newWorld(t)
		a1, b1, b2, _, id := ringAll(t, w, false)
		b1.do(id, Answer{})
		w.expect(b2, "ended:answered-elsewhere")
		b1.do(id, AnswerSDP{SDP: "bad"})
		w.expect(b1, "error:invalid_message", "ended:failed")
		w.expect(a1, "ended:failed")
	})
	t.Run("no sdp.answer after call.answer", func(t *testing.T) {
		w := newWorld(t)
		a1, b1, _, _, id := ringAll(t, w, false)
		b1.do(id, Answer{})
		w.tick(10 * time.Second)
		w.expect(b1, "error:call_failed", "ended:failed")
		w.expect(a1, "ended:failed")
	})
	t.Run("a desk phone's media cannot be made", func(t *testing.T) {
		w := newWorld(t)
		w.phones["user_b"] = 1
		a1 := w.device("sess_a1", "user_a")
		orig := w.m.phones
		w.m.SetPhones(phonesFunc(func(u ident.UserID, r Remote) []Party {
			ps := orig.CalleeParties(u, r)
			for _, p := range ps {
				p.(*simParty).mediaErr = errors.New("no ports")
			}
			return ps
		}))
		a1.dial("102")
		w.expect(a1, "answer", "ended:no-answer")
	})
}

type phonesFunc func(ident.UserID, Remote) []Party

func (f phonesFunc) CalleeParties(u ident.UserID, r Remote) []Party { return f(u, r) }

func TestAnswerRefusals(t *testing.T) {
	w := newWorld(t)
	a1, b1, b2, _, id := ringAll(t, w, false)
	a1.do(id, Answer{})
	w.expect(a1, "error:invalid_message")
	a1.reject(id, false)
	w.expect(a1, "error:invalid_message")
	a1.do(id, AnswerSDP{SDP: "x"})
	w.expect(a1, "error:invalid_message")
	b1.hold(id)
	w.expect(b1, "error:invalid_message")
	b1.answer(id)
	w.expect(b2, "ended:answered-elsewhere")
	w.expect(a1, "answered")
	w.expect(b1, "answered")
	b1.do(id, Answer{})
	w.expect(b1, "error:invalid_message")
	b1.do(id, AnswerSDP{SDP: "again"})
	w.expect(b1, "error:invalid_message")
	b1.reject(id, false)
	w.expect(b1, "error:invalid_message")
	b2.hangup(id)
	w.expect(b2, "error:call_not_found")
	w.quiet(a1, b1, b2)
}

// An answer that came before call.answer connects at once.
func TestSDPAnswerBeforeCallAnswer(t *testing.T) {
	w := newWorld(t)
	a1, b1, b2, _, id := ringAll(t, w, false)
	b1.do(id, AnswerSDP{SDP: "early"})
	w.quiet(a1, b1)
	b1.do(id, Answer{})
	w.expect(b2, "ended:answered-elsewhere")
	w.expect(a1, "answered")
	w.expect(b1, "answered")
}

func TestForwardsAndFollowMe(t *testing.T) {
	t.Run("follow-me steps, then the final forward", func(t *testing.T) {
		w := newWorld(t)
		w.dir.follow["user_b"] = &store.FollowMe{UserID: "user_b", FinalForward: "104", Steps: []store.FollowMeStep{
			{Targets: []string{"devices"}, RingSeconds: 5},
			{Targets: []string{"103", "+12125550199"}, RingSeconds: 7},
		}}
		a1, b1, c1, d1 := w.device("sess_a1", "user_a"), w.device("sess_b1", "user_b"),
			w.device("sess_c1", "user_c"), w.device("sess_d1", "user_d")
		id := a1.dial("102")
		w.expect(a1, "answer", "ringing")
		w.expect(b1, "incoming", "offer")
		w.quiet(c1, d1)
		w.tick(5 * time.Second)
		w.expect(b1, "ended:no-answer")
		w.expect(c1, "incoming", "offer")
		trunk := w.sipParty("trunk:+12125550199", 0)
		w.expect(trunk, "incoming")
		require.Equal(t, "+12125550199", trunk.req.Number)
		w.quiet(a1, d1)
		c1.reject(id, false)
		w.quiet(a1, trunk)
		w.tick(7 * time.Second)
		w.expect(trunk, "ended:no-answer")
		h := w.expect(d1, "incoming", "offer")
		require.Equal(t, Info{From: "101", FromName: "Alice", To: "104"}, h[0].info)
		d1.answer(id)
		w.expect(a1, "answered")
		w.expect(d1, "answered")
		rec := w.record(id)
		require.Equal(t, ident.UserID("user_b"), rec.ToUserID, "the record keeps the first user dialled")
		require.Equal(t, "sess_d1", rec.AnsweredBy)
	})
	t.Run("a step with nobody up is skipped", func(t *testing.T) {
		w := newWorld(t)
		w.dir.follow["user_b"] = &store.FollowMe{UserID: "user_b", Steps: []store.FollowMeStep{
			{Targets: []string{"devices"}, RingSeconds: 5},
			{Targets: []string{"103"}, RingSeconds: 5},
		}}
		a1, c1 := w.device("sess_a1", "user_a"), w.device("sess_c1", "user_c")
		a1.dial("102")
		w.expect(a1, "answer", "ringing")
		w.expect(c1, "incoming", "offer")
		w.tick(5 * time.Second)
		w.expect(c1, "ended:no-answer")
		w.expect(a1, "ended:no-answer")
	})
	t.Run("a ring group, then its next", func(t *testing.T) {
		w := newWorld(t)
		w.dir.groups["200"] = &store.RingGroup{ID: "rg_1", AccountID: "acct_a", Name: "Sales", Extension: "200",
			Members: []ident.UserID{"user_b", "user_c"}, RingSeconds: 4, Next: "104"}
		a1, b1, c1, d1 := w.device("sess_a1", "user_a"), w.device("sess_b1", "user_b"),
			w.device("sess_c1", "user_c"), w.device("sess_d1", "user_d")
		id := a1.dial("200")
		w.expect(b1, "incoming", "offer")
		w.expect(c1, "incoming", "offer")
		b1.reject(id, true)
		w.tick(4 * time.Second)
		w.expect(c1, "ended:no-answer")
		w.expect(d1, "incoming", "offer")
		d1.reject(id, false)
		w.expect(a1, "answer", "ringing", "ended:no-answer")
	})
	t.Run("forwards stop after five", func(t *testing.T) {
		w := newWorld(t)
		w.dir.groups["201"] = &store.RingGroup{ID: "rg_1", AccountID: "acct_a", Extension: "201",
			Members: []ident.UserID{"user_b"}, RingSeconds: 1, Next: "202"}
		w.dir.groups["202"] = &store.RingGroup{ID: "rg_2", AccountID: "acct_a", Extension: "202",
			Members: []ident.UserID{"user_b"}, RingSeconds: 1, Next: "201"}
		a1, b1 := w.device("sess_a1", "user_a"), w.device("sess_b1", "user_b")
		a1.dial("201")
		w.expect(a1, "answer", "ringing")
		for range 6 {
			w.expect(b1, "incoming", "offer")
			w.tick(time.Second)
			w.expect(b1, "ended:no-answer")
		}
		w.expect(a1, "ended:no-answer")
		w.quiet(b1)
	})
}

func TestCallsToNumbers(t *testing.T) {
	t.Run("out through a trunk, early media, then answered", func(t *testing.T) {
		w := newWorld(t)
		a1 := w.device("sess_a1", "user_a")
		id := a1.dial("+12125550100")
		trunk := w.sipParty("trunk:", 0)
		w.expect(trunk, "incoming")
		w.expect(a1, "answer")
		w.quiet(a1) // a trunk's leg alerts by itself
		trunk.remote.EarlyMedia(trunk.key, "early-sdp")
		w.expect(a1, "ringing")
		require.Equal(t, "forward/silence", w.feeds(), "the caller hears the far end; the far end hears nothing yet")
		trunk.remote.Answered(trunk.key, "final-sdp")
		w.expect(a1, "answered")
		w.expect(trunk, "answered")
		require.Equal(t, "forward/forward", w.feeds())
		rec := w.record(id)
		require.Equal(t, "outbound", rec.Direction)
		require.Equal(t, 1, w.media.bridgeCount(), "the early bridge carries the call")
		trunk.remote.HungUp(trunk.key)
		w.expect(a1, "ended:hangup")
	})
	t.Run("a trunk that rings, then fails", func(t *testing.T) {
		w := newWorld(t)
		a1 := w.device("sess_a1", "user_a")
		id := a1.dial("+12125550100")
		trunk := w.sipParty("trunk:", 0)
		w.expect(trunk, "incoming")
		trunk.remote.Ringing(trunk.key)
		w.expect(a1, "answer", "ringing")
		trunk.remote.Failed(trunk.key, endReason("busy"))
		w.expect(a1, "ended:busy")
		require.Equal(t, "busy", w.record(id).EndReason)
	})
	t.Run("the far end never answers", func(t *testing.T) {
		w := newWorld(t)
		a1 := w.device("sess_a1", "user_a")
		a1.dial("+12125550100")
		trunk := w.sipParty("trunk:", 0)
		w.tick(3 * time.Minute)
		w.expect(trunk, "incoming", "ended:no-answer")
		w.expect(a1, "answer", "ended:no-answer")
	})
	t.Run("no trunk carries it", func(t *testing.T) {
		w := newWorld(t)
		a1 := w.device("sess_a1", "user_a")
		a1.dial("+12125550000")
		w.expect(a1, "answer", "ended:failed")
	})
	t.Run("the account's trunk cap", func(t *testing.T) {
		w := newWorld(t)
		a1 := w.device("sess_a1", "user_a")
		for _, n := range []string{"+12125550101", "+12125550102", "+12125550103"} {
			a1.send(a1.create(n, "v=0"))
		}
		w.settle()
		got := whats(a1.snapshot())
		require.Contains(t, got, "error:call_failed")
		require.Contains(t, got, "ended:failed")
		require.Equal(t, 2, w.m.Count())
	})
	t.Run("not allowed to call out", func(t *testing.T) {
		w := newWorld(t)
		w.dir.setUser("101", func(u *store.User) { u.CanCallExternal = false })
		a1 := w.device("sess_a1", "user_a")
		a1.dial("+12125550100")
		w.expect(a1, "answer", "error:call_failed", "ended:failed")
	})
	t.Run("an account's own number rings its user", func(t *testing.T) {
		w := newWorld(t)
		w.dir.numbers["+12125550142"] = &store.PhoneNumber{Number: "+12125550142", AccountID: "acct_a", UserID: "user_b"}
		a1, b1 := w.device("sess_a1", "user_a"), w.device("sess_b1", "user_b")
		a1.dial("+12125550142")
		w.expect(b1, "incoming", "offer")
	})
	t.Run("echo test", func(t *testing.T) {
		w := newWorld(t)
		a1 := w.device("sess_a1", "user_a")
		id := a1.dial("*43")
		w.expect(a1, "answer", "answered")
		a1.hold(id)
		w.expect(a1, "error:invalid_message")
		a1.hangup(id)
		w.expect(a1, "ended:hangup")
		rec := w.record(id)
		require.Equal(t, "echo", rec.AnsweredBy)
		require.Equal(t, []string{"echo"}, w.media.playedAll())
	})
}

// Calls from SIP phones and trunks (Manager.Place).
func TestPlacedCalls(t *testing.T) {
	t.Run("a desk phone calls a user", func(t *testing.T) {
		w := newWorld(t)
		b1 := w.device("sess_b1", "user_b")
		p := &simParty{key: "phone:a"}
		r, id, err := w.m.Place(p, Placement{Account: "acct_a", User: "user_a", Destination: "102", SDP: "v=0"})
		require.NoError(t, err)
		p.remote = r
		w.expect(p, "answer", "ringing")
		h := w.expect(b1, "incoming", "offer")
		require.Equal(t, Info{From: "101", FromName: "Alice", To: "102"}, h[0].info)
		b1.answer(id)
		w.expect(p, "answered")
		r.Digit(p.key, '5', 100*time.Millisecond)
		w.settle()
		require.Equal(t, []string{"5>b/100ms"}, w.media.digits())
		b1.hangup(id)
		w.expect(p, "ended:hangup")
	})
	t.Run("a trunk call reaches an own number", func(t *testing.T) {
		w := newWorld(t)
		w.dir.numbers["+12125550142"] = &store.PhoneNumber{Number: "+12125550142", AccountID: "acct_a", UserID: "user_b"}
		b1 := w.device("sess_b1", "user_b")
		p := &simParty{key: "trunk-in"}
		_, id, err := w.m.Place(p, Placement{Account: "acct_a", Destination: "+12125550142", SDP: "v=0",
			Inbound: true, From: "+441234", FromName: "Far"})
		require.NoError(t, err)
		h := w.expect(b1, "incoming", "offer")
		require.Equal(t, Info{From: "+441234", FromName: "Far", To: "+12125550142"}, h[0].info)
		rec := w.record(id)
		require.Equal(t, "inbound", rec.Direction)
		require.Equal(t, "+441234", rec.From)
	})
	t.Run("a trunk call may not go out again", func(t *testing.T) {
		w := newWorld(t)
		p := &simParty{key: "trunk-in"}
		_, _, err := w.m.Place(p, Placement{Account: "acct_a", Destination: "+12125550100", SDP: "v=0", Inbound: true})
		require.NoError(t, err)
		w.expect(p, "answer", "error:call_failed", "forbidden", "ended:failed")
	})
	t.Run("a bad offer", func(t *testing.T) {
		w := newWorld(t)
		p := &simParty{key: "phone:a"}
		_, _, err := w.m.Place(p, Placement{Account: "acct_a", User: "user_a", Destination: "102", SDP: "bad"})
		require.NoError(t, err)
		w.expect(p, "error:invalid_message", "ended:failed")
	})
	t.Run("a phone's media cannot be made", func(t *testing.T) {
		w := newWorld(t)
		p := &simParty{key: "phone:a", mediaErr: errors.New("no ports")}
		_, _, err := w.m.Place(p, Placement{Account: "acct_a", User: "user_a", Destination: "102", SDP: "v=0"})
		require.NoError(t, err)
		w.expect(p, "error:call_failed", "ended:failed")
	})
	t.Run("the caller fails after the answer", func(t *testing.T) {
		w := newWorld(t)
		b1 := w.device("sess_b1", "user_b")
		p := &simParty{key: "phone:a"}
		r, id, err := w.m.Place(p, Placement{Account: "acct_a", User: "user_a", Destination: "102", SDP: "v=0"})
		require.NoError(t, err)
		w.expect(b1, "incoming", "offer")
		b1.answer(id)
		w.expect(b1, "answered")
		r.Failed(p.key, "")
		w.expect(b1, "ended:failed")
	})
}
