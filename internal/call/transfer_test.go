package call

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

func TestBlindTransfer(t *testing.T) {
	w := newWorld(t)
	a1, b1, id := connected(t, w)
	d1 := w.device("sess_d1", "user_d")
	a1.transfer(id, "104")
	w.expect(a1, "ended:transferred")
	h := w.expect(d1, "incoming", "offer")
	require.Equal(t, Info{From: "102", FromName: "Bob", To: "104"}, h[0].info, "Dave sees Bob calling")
	require.Equal(t, string(id), h[0].call)
	w.quiet(b1)
	require.Equal(t, []string{"ringback"}, w.media.playedAll())
	d1.answer(id)
	w.expect(d1, "answered")
	w.quiet(a1, b1, d1)
	require.Equal(t, "forward/forward", w.feeds())
	d1.hangup(id)
	w.expect(b1, "ended:hangup")
	w.expect(d1, "ended:hangup")
	rec := w.record(id)
	require.Equal(t, "blind transfer by user_a of user_b to 104; answered by user_d", rec.Transfer)
	require.Equal(t, []string{"callee:user_b:hangup", "callee:user_d:hangup", "caller:user_a:transferred"}, legUsers(rec))
}

// The transferred party heard call.held and hears call.resumed once the
// target answers.
func TestBlindTransferFromHold(t *testing.T) {
	w := newWorld(t)
	a1, b1, id := connected(t, w)
	d1 := w.device("sess_d1", "user_d")
	a1.hold(id)
	w.expect(b1, "held:remote")
	a1.transfer(id, "104")
	w.expect(a1, "held:local", "ended:transferred")
	w.expect(d1, "incoming", "offer")
	d1.answer(id)
	w.expect(d1, "answered")
	w.expect(b1, "resumed")
	require.Equal(t, "forward/forward", w.feeds())
}

func TestBlindTransferNotTaken(t *testing.T) {
	for _, tt := range []struct {
		name   string
		recall bool
		refuse func(w *world, d1 *simDevice, id ident.CallID)
		want   string
	}{
		{"busy, no recall", false, func(w *world, d1 *simDevice, id ident.CallID) { d1.reject(id, true) }, "ended:busy"},
		{"declined, no recall", false, func(w *world, d1 *simDevice, id ident.CallID) { d1.reject(id, false) }, "ended:rejected"},
		{"no answer, no recall", false, func(w *world, d1 *simDevice, id ident.CallID) { w.tick(20 * time.Second) }, "ended:no-answer"},
		{"busy, recall", true, func(w *world, d1 *simDevice, id ident.CallID) { d1.reject(id, true) }, ""},
		{"no answer, recall", true, func(w *world, d1 *simDevice, id ident.CallID) { w.tick(20 * time.Second) }, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, func(o *Options) { o.TransferRecall = tt.recall })
			a1, b1, id := connected(t, w)
			d1 := w.device("sess_d1", "user_d")
			a1.transfer(id, "104")
			w.expect(a1, "ended:transferred")
			w.expect(d1, "incoming", "offer")
			tt.refuse(w, d1, id)
			if !tt.recall {
				w.expect(b1, tt.want)
				w.noCalls()
				return
			}
			h := w.expect(a1, "incoming", "offer")
			recallID := ident.CallID(h[0].call)
			require.NotEqual(t, id, recallID, "the transferor sees a new call")
			require.Equal(t, Info{From: "102", FromName: "Bob", To: "104"}, h[0].info)
			a1.answer(recallID)
			w.expect(a1, "answered")
			w.quiet(b1)
			a1.hangup(recallID)
			w.expect(b1, "ended:hangup")
			w.expect(a1, "ended:hangup")
			require.Contains(t, w.record(id).Transfer, "; not taken, recalling the transferor; answered by user_a")
		})
	}
}

// A recall that is not taken either ends the call.
func TestBlindTransferRecallNotTaken(t *testing.T) {
	w := newWorld(t, func(o *Options) { o.TransferRecall = true })
	a1, b1, id := connected(t, w)
	d1 := w.device("sess_d1", "user_d")
	a1.transfer(id, "104")
	w.expect(d1, "incoming", "offer")
	d1.reject(id, false)
	w.expect(a1, "ended:transferred", "incoming", "offer")
	w.tick(30 * time.Second)
	w.expect(a1, "ended:no-answer")
	w.expect(b1, "ended:no-answer")
	w.noCalls()
}

func TestBlindTransferRefused(t *testing.T) {
	w := newWorld(t)
	a1, b1, id := connected(t, w)
	for _, tt := range []struct{ dest, want string }{
		{"*43", "error:call_failed"},
		{"199", "error:call_failed"},
	} {
		a1.transfer(id, tt.dest)
		w.expect(a1, tt.want)
	}
	w.quiet(a1, b1)
	require.Equal(t, "forward/forward", w.feeds(), "the call goes on")

	w2 := newWorld(t)
	a, b, _, _, ringing := ringAll(t, w2, false)
	a.transfer(ringing, "104")
	w2.expect(a, "error:invalid_message")
	w2.quiet(a, b)
}

// A SIP phone's REFER: a blind transfer with an answer for the request.
func TestReferBlind(t *testing.T) {
	w := newWorld(t)
	w.phones["user_b"] = 1
	a1, d1 := w.device("sess_a1", "user_a"), w.device("sess_d1", "user_d")
	id := a1.dial("102")
	desk := w.sipParty("phone:user_b", 0)
	w.expect(desk, "incoming")
	desk.remote.Answered(desk.key, "desk-sdp")
	w.expect(a1, "answer", "ringing", "answered")
	done := make(chan error, 1)
	desk.remote.Transfer(desk.key, "*43", "", func(err error) { done <- err })
	require.Error(t, <-done)
	desk.remote.Transfer(desk.key, "104", "", func(err error) { done <- err })
	require.NoError(t, <-done)
	w.expect(desk, "answered", "error:call_failed", "ended:transferred")
	w.expect(d1, "incoming", "offer")
	d1.answer(id)
	w.expect(d1, "answered")
	w.quiet(a1)
	desk.remote.Transfer(desk.key, "104", "", func(err error) { done <- err })
	require.ErrorIs(t, <-done, ErrNotFound, "the phone's leg is gone")
}

// consulting has a1 (connected to b1) consult Dave's d1, who answers.
func consulting(t *testing.T, w *world) (a1, b1, d1 *simDevice, orig, consult ident.CallID) {
	t.Helper()
	a1, b1, orig = connected(t, w)
	d1 = w.device("sess_d1", "user_d")
	consult = a1.consult(orig, "104")
	w.expect(b1, "held:remote")
	w.expect(a1, "answer", "ringing")
	h := w.expect(d1, "incoming", "offer")
	require.Equal(t, string(consult), h[0].call)
	return a1, b1, d1, orig, consult
}

func TestAttendedTransfer(t *testing.T) {
	w := newWorld(t)
	a1, b1, d1, orig, consult := consulting(t, w)
	d1.answer(consult)
	w.expect(a1, "answered")
	w.expect(d1, "answered")
	a1.complete(orig)
	h := w.expect(a1, "ended:transferred", "ended:transferred")
	require.ElementsMatch(t, []string{string(orig), string(consult)}, []string{h[0].call, h[1].call})
	w.expect(b1, "resumed")
	w.quiet(a1, b1, d1)
	require.Equal(t, "forward/forward", w.feeds())
	require.Equal(t, 1, w.m.Count())

	b1.hold(orig) // both keep their own call ids
	w.expect(b1, "held:local")
	h = w.expect(d1, "held:remote")
	require.Equal(t, string(consult), h[0].call)
	d1.hangup(consult)
	w.expect(b1, "ended:hangup")
	w.expect(d1, "ended:hangup")
	w.noCalls()
	rec := w.record(orig)
	require.Equal(t, "attended transfer by user_a: user_b joined with user_d from call "+string(consult), rec.Transfer)
	rec2 := w.record(consult)
	require.Equal(t, "transferred", rec2.EndReason)
	require.Equal(t, []string{"callee:user_d:joined", "caller:user_a:transferred"}, legUsers(rec2))
}

func TestAttendedTransferNotTaken(t *testing.T) {
	for _, tt := range []struct {
		name string
		act  func(w *world, a1, d1 *simDevice, consult ident.CallID)
		a, d []string
	}{
		{"busy", func(w *world, a1, d1 *simDevice, c ident.CallID) { d1.reject(c, true) },
			[]string{"ended:busy"}, []string{"ended:rejected"}},
		{"no answer", func(w *world, a1, d1 *simDevice, c ident.CallID) { w.tick(20 * time.Second) },
			[]string{"ended:no-answer"}, []string{"ended:no-answer"}},
		{"cancelled", func(w *world, a1, d1 *simDevice, c ident.CallID) { a1.hangup(c) },
			[]string{"ended:hangup"}, []string{"ended:hangup"}},
		{"answered, then the transferor hangs the consult up", func(w *world, a1, d1 *simDevice, c ident.CallID) {
			d1.answer(c)
			w.expect(a1, "answered")
			w.expect(d1, "answered")
			d1.hangup(c)
		}, []string{"ended:hangup"}, []string{"ended:hangup"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			a1, b1, d1, orig, consult := consulting(t, w)
			tt.act(w, a1, d1, consult)
			got := whats(w.next(a1, 2)) // the consult's end and the original's resume race
			require.Equal(t, sorted(tt.a, "resumed"), sorted(got))
			w.expect(d1, tt.d...)
			w.expect(b1, "resumed")
			w.quiet(a1, b1, d1)
			require.Equal(t, "forward/forward", w.feeds(), "the original call goes on")
			a1.complete(orig)
			w.expect(a1, "error:invalid_message")
		})
	}
}

// The transferor hangs up the original during the consult: the consult
// goes on as a call of its own.
func TestAttendedTransferorLeavesOriginal(t *testing.T) {
	w := newWorld(t)
	a1, b1, d1, orig, consult := consulting(t, w)
	a1.hangup(orig)
	h := w.expect(a1, "ended:hangup")
	require.Equal(t, string(orig), h[0].call)
	w.expect(b1, "ended:hangup")
	d1.answer(consult)
	w.expect(a1, "answered")
	w.expect(d1, "answered")
	a1.hangup(consult)
	w.expect(d1, "ended:hangup")
	w.noCalls()
}

func TestAttendedTransferRefusals(t *testing.T) {
	w := newWorld(t)
	a1, b1, d1, orig, consult := consulting(t, w)
	a1.complete(orig)
	h := w.expect(a1, "error:call_failed") // the consult is not answered yet
	require.Equal(t, string(orig), h[0].call)
	b1.complete(orig)
	h = w.expect(b1, "error:invalid_message")
	reqID, _ := errorOf(h[0])
	require.Equal(t, "req_complete", reqID)
	a1.attendedStep(orig, "sideways")
	w.expect(a1, "error:invalid_message")
	a1.attendedStep(orig, "consult") // no destination, and one is running
	w.expect(a1, "error:invalid_message")
	a1.transfer(orig, "103")
	w.expect(a1, "error:invalid_message")
	a1.transfer(consult, "103")
	w.expect(a1, "error:invalid_message")
	a1.attendedStep(consult, "consult")
	w.expect(a1, "error:invalid_message")
	w.quiet(a1, b1, d1)
}

// The original ends while the consult hands its party over (the race
// fixed in 0e8c9d8): the handed-over party is told, its media released.
func TestAttendedTransferOriginalEndsDuringCompletion(t *testing.T) {
	w := newWorld(t)
	a1, b1, d1, orig, consult := consulting(t, w)
	d1.answer(consult)
	w.expect(a1, "answered")
	w.expect(d1, "answered")
	release := block(w.m.lookup(orig))
	a1.complete(orig)
	b1.hangup(orig)
	release()
	w.expect(d1, "ended:hangup")
	w.expect(b1, "ended:hangup")
	got := whats(w.next(a1, 2))
	slices.Sort(got)
	require.Equal(t, []string{"ended:hangup", "ended:transferred"}, got)
	w.noCalls()
	w.settle()
	require.Zero(t, w.media.openLegs(), "every leg's media is closed")
}

// The consult ends just before it would hand over: the original goes on.
func TestAttendedTransferConsultEndsDuringCompletion(t *testing.T) {
	w := newWorld(t)
	a1, b1, d1, orig, consult := consulting(t, w)
	d1.answer(consult)
	w.expect(a1, "answered")
	w.expect(d1, "answered")
	release := block(w.m.lookup(consult))
	d1.hangup(consult)
	a1.complete(orig)
	w.barrier(w.m.lookup(orig)) // the original asked the consult to hand over
	release()
	w.expect(d1, "ended:hangup")
	require.Equal(t, []string{"ended:hangup", "resumed"}, sorted(whats(w.next(a1, 2))))
	w.expect(b1, "resumed")
	w.quiet(a1, b1, d1)
	require.Equal(t, 1, w.m.Count())
}

// block holds c's actor until release is called.
func block(c *Call) (release func()) {
	gate, in := make(chan struct{}), make(chan struct{})
	c.post(event{fn: func() { close(in); <-gate }})
	<-in
	return func() { close(gate) }
}

// A SIP phone's REFER with Replaces joins its two calls' other parties.
func TestReferReplaces(t *testing.T) {
	w := newWorld(t)
	w.phones["user_b"] = 1
	a1, d1 := w.device("sess_a1", "user_a"), w.device("sess_d1", "user_d")
	orig := a1.dial("102")
	desk := w.sipParty("phone:user_b", 0)
	w.expect(desk, "incoming")
	desk.remote.Answered(desk.key, "desk-sdp")
	w.expect(a1, "answer", "ringing", "answered")

	second := &simParty{key: "phone:user_b:second"}
	r, consult, err := w.m.Place(second, Placement{Account: "acct_a", User: "user_b", Destination: "104", SDP: "v=0"})
	require.NoError(t, err)
	second.remote = r
	w.expect(d1, "incoming", "offer")
	d1.answer(consult)
	w.expect(second, "answer", "ringing", "answered")
	w.expect(d1, "answered")

	done := make(chan error, 1)
	desk.remote.Transfer(desk.key, "", "phone:nobody", func(err error) { done <- err })
	require.Error(t, <-done)
	desk.remote.Transfer(desk.key, "", second.key, func(err error) { done <- err })
	require.NoError(t, <-done)
	w.expect(desk, "answered", "ended:transferred")
	w.expect(second, "ended:transferred")
	w.quiet(a1, d1)
	require.Equal(t, 1, w.m.Count())
	a1.hangup(orig)
	h := w.expect(d1, "ended:hangup")
	require.Equal(t, string(consult), h[0].call)
	w.noCalls()
	require.Equal(t, "attended transfer by user_b: user_a joined with user_d from call "+string(consult), w.record(orig).Transfer)
}
