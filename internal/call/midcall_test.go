package call

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

// connected has a1 (Alice) call Bob's b1, who answers.
func connected(t *testing.T, w *world) (a1, b1 *simDevice, id ident.CallID) {
	t.Helper()
	a1, b1 = w.device("sess_a1", "user_a"), w.device("sess_b1", "user_b")
	id = a1.dial("102")
	w.expect(b1, "incoming", "offer")
	b1.answer(id)
	w.expect(a1, "answer", "ringing", "answered")
	w.expect(b1, "answered")
	return a1, b1, id
}

func TestHoldAndResume(t *testing.T) {
	w := newWorld(t)
	a1, b1, id := connected(t, w)
	call := w.m.lookup(id)
	state := func() State {
		ch := make(chan State, 1)
		call.post(event{fn: func() { ch <- call.state }})
		return <-ch
	}
	steps := []struct {
		who       *simDevice
		act       func(*simDevice)
		a, b      []string
		feeds     string // toA/toB: what Alice and Bob hear
		wantState State
	}{
		{a1, func(d *simDevice) { d.hold(id) }, []string{"held:local"}, []string{"held:remote"}, "silence/music", StateHeld},
		{a1, func(d *simDevice) { d.hold(id) }, []string{"error:invalid_message"}, nil, "silence/music", StateHeld},
		{b1, func(d *simDevice) { d.hold(id) }, []string{"held:remote"}, []string{"held:local"}, "music/music", StateHeld},
		{a1, func(d *simDevice) { d.resume(id) }, []string{"resumed"}, []string{"resumed"}, "music/silence", StateHeld},
		{a1, func(d *simDevice) { d.resume(id) }, []string{"error:invalid_message"}, nil, "music/silence", StateHeld},
		{b1, func(d *simDevice) { d.resume(id) }, []string{"resumed"}, []string{"resumed"}, "forward/forward", StateActive},
		{b1, func(d *simDevice) { d.hold(id) }, []string{"held:remote"}, []string{"held:local"}, "music/silence", StateHeld},
		{b1, func(d *simDevice) { d.resume(id) }, []string{"resumed"}, []string{"resumed"}, "forward/forward", StateActive},
	}
	for i, st := range steps {
		st.act(st.who)
		w.expect(a1, st.a...)
		w.expect(b1, st.b...)
		w.quiet(a1, b1)
		require.Equal(t, st.feeds, w.feeds(), "step %d", i)
		require.Equal(t, st.wantState, state(), "step %d", i)
	}
}

func TestMute(t *testing.T) {
	w := newWorld(t)
	a1, b1, id := connected(t, w)
	a1.mute(id, true)
	w.quiet(a1, b1)
	require.Equal(t, "forward/silence", w.feeds(), "Bob hears silence from Alice")
	a1.mute(id, true) // repeating is harmless
	b1.mute(id, true)
	w.quiet(a1, b1)
	require.Equal(t, "silence/silence", w.feeds())
	a1.hold(id)
	w.expect(a1, "held:local")
	w.expect(b1, "held:remote")
	require.Equal(t, "silence/music", w.feeds(), "hold music wins over mute")
	a1.resume(id)
	a1.mute(id, false)
	b1.mute(id, false)
	w.expect(a1, "resumed")
	w.expect(b1, "resumed")
	w.quiet(a1, b1)
	require.Equal(t, "forward/forward", w.feeds())
}

// A mute before the answer takes effect at the answer.
func TestMuteBeforeAnswer(t *testing.T) {
	w := newWorld(t)
	a1, b1 := w.device("sess_a1", "user_a"), w.device("sess_b1", "user_b")
	id := a1.dial("102")
	w.expect(b1, "incoming", "offer")
	a1.mute(id, true)
	b1.answer(id)
	w.expect(b1, "answered")
	require.Equal(t, "forward/silence", w.feeds())
}

func TestDTMF(t *testing.T) {
	w := newWorld(t)
	w.phones["user_b"] = 1
	a1 := w.device("sess_a1", "user_a")
	id := a1.dial("102")
	desk := w.sipParty("phone:user_b", 0)
	w.expect(desk, "incoming")
	desk.remote.Digit(desk.key, '9', 50*time.Millisecond) // ringing: dropped
	desk.remote.Answered(desk.key, "desk-sdp")
	w.expect(desk, "answered")
	desk.remote.Digit(desk.key, '1', 100*time.Millisecond)
	desk.remote.Digit(desk.key, '#', 200*time.Millisecond)
	w.settle()
	require.Equal(t, []string{"1>a/100ms", "#>a/200ms"}, w.media.digits(), "the caller hears the digits")
	a1.hangup(id)
	w.expect(desk, "ended:hangup")
	desk.remote.Digit(desk.key, '2', time.Millisecond) // after the end: dropped
	w.settle()
}

func TestReoffers(t *testing.T) {
	w := newWorld(t)
	a1, b1, id := connected(t, w)
	a1.reoffer(id, "new-offer")
	w.expect(a1, "answer")
	b1.reoffer(id, "bad")
	w.expect(b1, "error:invalid_message")
	w.quiet(a1, b1)
}

func TestReofferBeforeTheAnswer(t *testing.T) {
	w := newWorld(t)
	a1, b1 := w.device("sess_a1", "user_a"), w.device("sess_b1", "user_b")
	id := a1.dial("102")
	w.expect(b1, "incoming", "offer")
	b1.reoffer(id, "x")
	w.expect(b1, "error:invalid_message")
	a1.reoffer(id, "x") // the caller may renegotiate at any time
	w.expect(a1, "answer", "ringing", "answer")
}

// A SIP party's re-INVITE answers and holds or resumes.
func TestSIPReinviteHolds(t *testing.T) {
	w := newWorld(t)
	w.phones["user_b"] = 1
	a1 := w.device("sess_a1", "user_a")
	id := a1.dial("102")
	desk := w.sipParty("phone:user_b", 0)
	w.expect(desk, "incoming")
	desk.remote.Answered(desk.key, "desk-sdp")
	w.expect(a1, "answer", "ringing", "answered")
	answers := make(chan string, 4)
	reply := func(sdp string, err error) {
		if err != nil {
			sdp = "error"
		}
		answers <- sdp
	}
	desk.remote.Reoffered(desk.key, "hold-sdp", true, reply)
	require.Equal(t, "server-answer", <-answers)
	w.expect(a1, "held:remote")
	w.expect(desk, "answered", "held:local")
	desk.remote.Reoffered(desk.key, "resume-sdp", false, reply)
	require.Equal(t, "server-answer", <-answers)
	w.expect(a1, "resumed")
	a1.hangup(id)
	w.noCalls()
}

func TestCandidates(t *testing.T) {
	w := newWorld(t)
	a1, _, id := connected(t, w)
	a1.candidate(id, "candidate:1")
	a1.candidate(id, "bad")
	w.expect(a1, "error:invalid_message")
	w.settle()
	require.Equal(t, []string{"candidate:1"}, w.media.candidates())
}

func TestRestore(t *testing.T) {
	w := newWorld(t)
	a1, b1, b2 := w.device("sess_a1", "user_a"), w.device("sess_b1", "user_b"), w.device("sess_b2", "user_b")
	stranger := w.device("sess_x", "user_c")
	id := a1.dial("102")
	w.expect(b1, "incoming", "offer")
	w.expect(b2, "incoming", "offer")
	w.m.Restore(a1)
	w.m.Restore(b1)
	w.m.Restore(stranger)
	w.expect(a1, "answer", "ringing", "restored:ringing")
	w.expect(b1, "restored:ringing")
	w.quiet(stranger)
	require.True(t, w.m.HasLiveCalls("sess_b1"))
	require.False(t, w.m.HasLiveCalls("sess_x"))

	b1.answer(id)
	w.expect(b2, "ended:answered-elsewhere")
	require.False(t, w.m.HasLiveCalls("sess_b2"))
	w.expect(a1, "answered")
	w.expect(b1, "answered")
	a1.mute(id, true)
	a1.hold(id)
	w.expect(a1, "held:local")
	w.expect(b1, "held:remote")
	w.m.Restore(a1)
	w.m.Restore(b1)
	h := w.expect(a1, "restored:held:local")
	w.expect(b1, "restored:held:remote")
	require.Equal(t, string(id), h[0].call)
	requireRestoredMuted(t, h[0], true)
	a1.resume(id)
	w.expect(a1, "resumed")
	w.expect(b1, "resumed")
	w.m.Restore(b1)
	h = w.expect(b1, "restored:active")
	requireRestoredMuted(t, h[0], false)
	requireRestoredInbound(t, h[0])
	w.quiet(a1, b1, b2)
}

// A device that goes away for good leaves its calls.
func TestDeviceGone(t *testing.T) {
	t.Run("a ringing device", func(t *testing.T) {
		w := newWorld(t)
		a1, b1, b2, _, _ := ringAll(t, w, false)
		w.m.DeviceGone(b1)
		w.quiet(a1, b1, b2)
		w.m.DeviceGone(b2)
		w.expect(a1, "ended:no-answer")
		w.quiet(b1, b2)
	})
	t.Run("the answering device", func(t *testing.T) {
		w := newWorld(t)
		a1, b1, _ := connected(t, w)
		w.m.DeviceGone(b1)
		w.expect(a1, "ended:hangup")
		w.noCalls()
	})
	t.Run("the caller", func(t *testing.T) {
		w := newWorld(t)
		a1, b1, b2, _, _ := ringAll(t, w, false)
		w.m.DeviceGone(a1)
		w.expect(b1, "ended:hangup")
		w.expect(b2, "ended:hangup")
		w.noCalls()
	})
}

// Call waiting: a second call rings a device already in a call.
func TestCallWaiting(t *testing.T) {
	w := newWorld(t)
	a1, b1, first := connected(t, w)
	c1 := w.device("sess_c1", "user_c")
	second := c1.dial("102")
	h := w.expect(b1, "incoming", "offer")
	require.Equal(t, string(second), h[0].call)
	require.Equal(t, Info{From: "103", FromName: "Carol", To: "102"}, h[0].info)
	b1.hold(first)
	w.expect(b1, "held:local")
	w.expect(a1, "held:remote")
	b1.answer(second)
	w.expect(c1, "answer", "ringing", "answered")
	w.expect(b1, "answered")
	require.Len(t, w.media.live(), 2)
	b1.hangup(second)
	w.expect(c1, "ended:hangup")
	h = w.expect(b1, "ended:hangup")
	require.Equal(t, string(second), h[0].call)
	b1.resume(first)
	w.expect(b1, "resumed")
	w.expect(a1, "resumed")
	w.quiet(a1, b1, c1)
	require.Equal(t, "forward/forward", w.feeds())
}

// A user never rings their own calling device, but does ring their others.
func TestCallOwnExtension(t *testing.T) {
	w := newWorld(t)
	a1, a2 := w.device("sess_a1", "user_a"), w.device("sess_a2", "user_a")
	a1.dial("101")
	w.expect(a2, "incoming", "offer")
	w.expect(a1, "answer", "ringing")
	w.quiet(a1)
}
