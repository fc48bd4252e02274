package call

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// Early media from the far network before the answer, and what the
// answer does with it.
func TestEarlyMedia(t *testing.T) {
	t.Run("the answer describes the media again", func(t *testing.T) {
		w := newWorld(t)
		a1 := w.device("sess_a1", "user_a")
		a1.dial("+12125550100")
		trunk := w.sipParty("trunk:", 0)
		w.expect(trunk, "incoming")
		trunk.remote.EarlyMedia(trunk.key, "early")
		trunk.remote.EarlyMedia(trunk.key, "early") // the same again: applied once
		trunk.remote.Answered(trunk.key, "final")
		w.expect(a1, "answer", "ringing", "answered")
		require.Equal(t, []string{"early", "final"}, w.media.appliedTo("rtp"))
		require.Equal(t, 1, w.media.bridgeCount())
	})
	t.Run("a second leg's early media is ignored, its answer wins", func(t *testing.T) {
		w := newWorld(t)
		w.dir.follow["user_b"] = &store.FollowMe{UserID: "user_b", Steps: []store.FollowMeStep{
			{Targets: []string{"+12125550101", "+12125550102"}, RingSeconds: 10},
		}}
		a1 := w.device("sess_a1", "user_a")
		id := a1.dial("102")
		t1, t2 := w.sipParty("trunk:+12125550101", 0), w.sipParty("trunk:+12125550102", 0)
		w.expect(t1, "incoming")
		w.expect(t2, "incoming")
		t1.remote.EarlyMedia(t1.key, "early-1")
		t2.remote.EarlyMedia(t2.key, "early-2")
		w.expect(a1, "answer", "ringing")
		require.Equal(t, []string{"early-1"}, w.media.appliedTo("rtp"))
		t2.remote.Answered(t2.key, "final-2")
		w.expect(t1, "ended:answered-elsewhere")
		w.expect(t2, "answered")
		w.expect(a1, "answered")
		require.Len(t, w.media.live(), 1, "the early bridge made way for the answer's")
		require.Equal(t, "forward/forward", w.feeds())
		t1.remote.EarlyMedia(t1.key, "late") // a leg that ended: ignored
		w.quiet(a1)
		require.Equal(t, t2.key, w.record(id).AnsweredBy)
	})
}

// A leg whose media died ends the call, wherever a transfer took it.
func TestDeadMediaFollowsTheLeg(t *testing.T) {
	w := newWorld(t)
	a1, b1, d1, orig, consult := consulting(t, w)
	d1.answer(consult)
	w.expect(a1, "answered")
	w.expect(d1, "answered")
	a1.complete(orig)
	w.expect(a1, "ended:transferred", "ended:transferred")
	w.expect(b1, "resumed")
	w.media.kill("webrtc", 3) // Dave's leg, made in the consult
	w.expect(b1, "ended:failed")
	h := w.expect(d1, "ended:failed")
	require.Equal(t, string(consult), h[0].call)
	w.noCalls()
	w.media.kill("webrtc", 3) // a late report: dropped
}

// The called party transfers too.
func TestCalleeTransfers(t *testing.T) {
	t.Run("blind", func(t *testing.T) {
		w := newWorld(t)
		a1, b1, id := connected(t, w)
		d1 := w.device("sess_d1", "user_d")
		b1.transfer(id, "104")
		w.expect(b1, "ended:transferred")
		h := w.expect(d1, "incoming", "offer")
		require.Equal(t, Info{From: "101", FromName: "Alice", To: "104"}, h[0].info)
		d1.answer(id)
		w.expect(d1, "answered")
		w.quiet(a1)
		require.Equal(t, "blind transfer by user_b of user_a to 104; answered by user_d", w.record(id).Transfer)
	})
	t.Run("attended", func(t *testing.T) {
		w := newWorld(t)
		a1, b1, id := connected(t, w)
		c1 := w.device("sess_c1", "user_c")
		consult := b1.consult(id, "103")
		w.expect(a1, "held:remote")
		w.expect(c1, "incoming", "offer")
		c1.answer(consult)
		w.expect(b1, "answer", "ringing", "answered")
		b1.complete(id)
		w.expect(b1, "ended:transferred", "ended:transferred")
		w.expect(a1, "resumed")
		a1.hangup(id)
		h := w.expect(c1, "answered", "ended:hangup")
		require.Equal(t, string(consult), h[1].call)
	})
	t.Run("to a number outside", func(t *testing.T) {
		w := newWorld(t)
		_, b1, id := connected(t, w)
		b1.transfer(id, "+12125550100")
		w.expect(b1, "ended:transferred")
		trunk := w.sipParty("trunk:", 0)
		h := w.expect(trunk, "incoming")
		require.Equal(t, Info{From: "101", FromName: "Alice", To: "+12125550100"}, h[0].info)
		require.Equal(t, "internal", w.record(id).Direction, "routing is saved with the next event")
		trunk.remote.Answered(trunk.key, "sdp")
		w.expect(trunk, "answered")
		require.Equal(t, "outbound", w.record(id).Direction)
	})
}

func TestConsultRefusals(t *testing.T) {
	t.Run("both calls with the same device", func(t *testing.T) {
		w := newWorld(t)
		a1, b1, orig := connected(t, w)
		consult := a1.consult(orig, "102")
		w.expect(b1, "held:remote", "incoming", "offer")
		b1.answer(consult)
		w.expect(a1, "answer", "ringing", "answered")
		w.expect(b1, "answered")
		a1.complete(orig)
		h := w.expect(a1, "error:call_failed")
		_, msg := errorOf(h[0])
		require.Equal(t, "call.transfer.attended: both calls are with the same device", msg)
		require.Equal(t, 2, w.m.Count())
	})
	t.Run("a consult needs an offer", func(t *testing.T) {
		w := newWorld(t)
		a1, b1, orig := connected(t, w)
		a1.do(orig, AttendedTransfer{Step: StepConsult, ReqID: "r", To: "104"})
		h := w.expect(a1, "error:invalid_message")
		reqID, _ := errorOf(h[0])
		require.Equal(t, "r", reqID)
		w.quiet(a1, b1)
	})
	t.Run("a REFER while ringing", func(t *testing.T) {
		_, _, desk := deskRinging(t)
		done := make(chan error, 1)
		desk.remote.Transfer(desk.key, "104", "", func(err error) { done <- err })
		require.EqualError(t, <-done, "only an answered call can be transferred")
		desk.remote.Transfer(desk.key, "", "phone:x", func(err error) { done <- err })
		require.EqualError(t, <-done, "only an answered call can be transferred")
	})
	t.Run("a trunk leg may not transfer", func(t *testing.T) {
		w := newWorld(t)
		a1 := w.device("sess_a1", "user_a")
		a1.dial("+12125550100")
		trunk := w.sipParty("trunk:", 0)
		w.expect(trunk, "incoming")
		trunk.remote.Answered(trunk.key, "sdp")
		w.expect(a1, "answer", "answered")
		done := make(chan error, 1)
		trunk.remote.Transfer(trunk.key, "104", "", func(err error) { done <- err })
		require.EqualError(t, <-done, "only a user's device can transfer a call")
	})
}

// A session that goes away for good during an attended transfer.
func TestTransferorGoneDuringConsult(t *testing.T) {
	w := newWorld(t)
	a1, b1, d1, _, _ := consulting(t, w)
	w.m.DeviceGone(a1)
	// Both calls hear of it at once: when the consult ends first, the
	// original resumes just before it ends.
	w.expectMaybeResumed(b1, "ended:hangup")
	w.expect(d1, "ended:hangup")
	w.noCalls()
}

func TestShutdownDuringConsult(t *testing.T) {
	w := newWorld(t)
	a1, b1, d1, _, _ := consulting(t, w)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	require.NoError(t, w.m.Shutdown(ctx))
	w.expectMaybeResumed(a1, "ended:server-shutdown", "ended:server-shutdown")
	w.expectMaybeResumed(b1, "ended:server-shutdown")
	w.expect(d1, "ended:server-shutdown")
}

// expectMaybeResumed is expect, where each call.resumed before a wanted
// report is allowed: the original call of a consult that ends at the same
// moment may resume just before it ends too.
func (w *world) expectMaybeResumed(e partyEar, want ...string) {
	w.t.Helper()
	for _, wh := range want {
		got := whats(w.next(e, 1))[0]
		for got == "resumed" {
			got = whats(w.next(e, 1))[0]
		}
		require.Equal(w.t, wh, got, "%s heard", e.name())
	}
}

// Restores while a transfer is under way.
func TestRestoreDuringTransfers(t *testing.T) {
	w := newWorld(t)
	a1, b1, id := connected(t, w)
	d1 := w.device("sess_d1", "user_d")
	a1.transfer(id, "104")
	w.expect(a1, "ended:transferred")
	w.expect(d1, "incoming", "offer")
	w.m.Restore(b1)
	w.m.Restore(a1) // the transferor has no part any more
	h := w.expect(b1, "restored:active")
	require.True(t, h[0].info.(Restored).Inbound, "Bob was called, and keeps his side")
	w.quiet(a1)
	require.True(t, w.m.HasLiveCalls("sess_d1"))
	require.False(t, w.m.HasLiveCalls("sess_a1"))
}

// Trickled candidates wait for the description they belong to.
func TestCandidatesWaitForTheDescription(t *testing.T) {
	w := newWorld(t)
	a1, b1 := w.device("sess_a1", "user_a"), w.device("sess_b1", "user_b")
	a1.do("req_1", Candidate{Candidate: "candidate:early"}) // under the req_id, before the request
	id := a1.dial("102")
	require.Equal(t, "req_1", a1.snapshot()[0].info)
	w.expect(b1, "incoming", "offer")
	b1.candidate(id, "candidate:b-before-answer")
	w.settle()
	require.Equal(t, []string{"candidate:early"}, w.media.candidates())
	b1.answer(id)
	w.expect(b1, "answered")
	require.Equal(t, []string{"candidate:early", "candidate:b-before-answer"}, w.media.candidates())
	a1.do("req_1", Hangup{}) // a control frame under the req_id reaches the call
	w.expect(b1, "ended:hangup")
}

// SIP parties' failures and re-offers at the edges of the call's life.
func TestSIPPartyEdges(t *testing.T) {
	t.Run("the answering phone fails", func(t *testing.T) {
		w, a1, desk := deskRinging(t)
		desk.remote.Answered(desk.key, "sdp")
		w.expect(a1, "answer", "ringing", "answered")
		desk.remote.Failed(desk.key, "")
		w.expect(a1, "ended:failed")
		w.expect(desk, "answered", "ended:failed")
	})
	t.Run("a re-offer before the answer answers without a hold", func(t *testing.T) {
		w, a1, desk := deskRinging(t)
		got := make(chan string, 1)
		w.expect(a1, "answer", "ringing")
		desk.remote.Reoffered(desk.key, "hold-sdp", true, func(sdp string, err error) { got <- sdp })
		require.Equal(t, "server-answer", <-got)
		w.quiet(a1, desk)
		desk.remote.Reoffered("phone:nobody", "x", false, func(_ string, err error) {
			require.ErrorIs(t, err, ErrNotFound)
			got <- "refused"
		})
		require.Equal(t, "refused", <-got)
	})
	t.Run("reports from a party the call does not know are dropped", func(t *testing.T) {
		w, a1, desk := deskRinging(t)
		w.expect(a1, "answer", "ringing")
		for _, report := range []func(){
			func() { desk.remote.Answered("phone:x", "sdp") },
			func() { desk.remote.Rejected("phone:x", true) },
			func() { desk.remote.HungUp("phone:x") },
			func() { desk.remote.Ringing("phone:x") },
		} {
			report()
		}
		w.quiet(a1, desk)
		require.Equal(t, 1, w.m.Count())
	})
}

// The account's cap on calls through trunks: a trunk leg holds a place
// until it ends; emergency calls neither need nor take one.
func TestOutboundCap(t *testing.T) {
	w := newWorld(t)
	a1 := w.device("sess_a1", "user_a")
	first := a1.dial("+12125550101")
	w.expect(a1, "answer")
	a1.dial("+12125550102")
	w.expect(a1, "answer")
	a1.send(a1.create("911", "v=0"))
	w.expect(a1, "trying", "answer")
	w.expect(w.sipParty("trunk:911", 0), "incoming")
	a1.send(a1.create("+12125550103", "v=0"))
	w.expect(a1, "trying", "answer", "error:call_failed", "ended:failed")
	a1.hangup(first)
	w.expect(a1, "ended:hangup")
	w.settle()
	a1.dial("+12125550104")
	w.expect(a1, "answer")
	w.expect(w.sipParty("trunk:+12125550104", 0), "incoming")
}

// What presence sees of a blind transfer.
func TestActivityOfATransfer(t *testing.T) {
	act := &simActivity{}
	w := newWorld(t, func(o *Options) { o.Activity = act })
	a1, b1, id := connected(t, w)
	d1 := w.device("sess_d1", "user_d")
	a1.transfer(id, "104")
	w.expect(d1, "incoming", "offer")
	d1.answer(id)
	w.expect(d1, "answered")
	b1.hangup(id)
	w.noCalls()
	var dave []string
	for _, p := range act.seen() {
		if p[:6] == "user_d" {
			dave = append(dave, p)
		}
	}
	require.Equal(t, []string{"user_d:early:102", "user_d:confirmed:102", "user_d:terminated:102"}, dave)
	require.Contains(t, act.seen(), "user_a:terminated:initiator:102")
	require.Equal(t, ident.CallID(id), w.record(id).ID)
}

// Media that cannot be bridged fails the call at the answer.
func TestBridgeFailures(t *testing.T) {
	t.Run("at the answer", func(t *testing.T) {
		w := newWorld(t)
		a1, b1, b2, _, id := ringAll(t, w, false)
		w.media.mu.Lock()
		w.media.noAudio = true
		w.media.mu.Unlock()
		b1.answer(id)
		w.expect(b2, "ended:answered-elsewhere")
		w.expect(b1, "error:call_failed", "ended:failed")
		w.expect(a1, "ended:failed")
		require.Equal(t, "failed", w.record(id).EndReason)
	})
	t.Run("at an attended transfer's completion", func(t *testing.T) {
		w := newWorld(t)
		a1, b1, d1, orig, consult := consulting(t, w)
		d1.answer(consult)
		w.expect(a1, "answered")
		w.expect(d1, "answered")
		w.media.mu.Lock()
		w.media.noAudio = true
		w.media.mu.Unlock()
		a1.complete(orig)
		w.expect(a1, "ended:transferred", "ended:transferred")
		w.expect(b1, "ended:failed")
		w.expect(d1, "ended:failed")
		w.noCalls()
	})
}

// The transferred party may itself be holding: it stays on hold with the
// target, and hears no resume.
func TestBlindTransferOfAHoldingParty(t *testing.T) {
	w := newWorld(t)
	a1, b1, id := connected(t, w)
	d1 := w.device("sess_d1", "user_d")
	b1.hold(id)
	w.expect(a1, "held:remote")
	w.expect(b1, "held:local")
	a1.transfer(id, "104")
	w.expect(a1, "ended:transferred")
	w.expect(d1, "incoming", "offer")
	d1.answer(id)
	w.expect(d1, "answered")
	w.quiet(b1, d1)
	require.Equal(t, "silence/music", w.feeds(), "Bob (now the caller side) still holds")
	b1.resume(id)
	w.expect(b1, "resumed")
	w.expect(d1, "resumed")
	require.Equal(t, "forward/forward", w.feeds())
}

// Frames for a call that already ended for the device.
func TestLateFrames(t *testing.T) {
	w := newWorld(t)
	a1, b1, b2, _, id := ringAll(t, w, false)
	b1.do(id, Answer{})
	w.expect(b2, "ended:answered-elsewhere")
	w.tick(10 * time.Second) // no sdp.answer in time
	w.expect(b1, "error:call_failed", "ended:failed")
	w.expect(a1, "ended:failed")
	w.noCalls()
	b1.do(id, AnswerSDP{SDP: "late"})
	h := w.expect(b1, "error:call_not_found")
	require.Equal(t, string(id), h[0].call)
	b2.candidate(id, "candidate:late") // advisory: dropped
	w.quiet(a1, b1, b2)
}
