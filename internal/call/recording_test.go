package call

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

func (p devParty) RecordingChanged(n RecordingNotice) {
	p.hear("recording:"+string(n.State)+"/"+n.ReqID, n)
}

// fakeRecorder keeps what recordings did.
type fakeRecorder struct {
	mu     sync.Mutex
	mode   store.RecordingMode
	events []string
	fed    [2]int // Feed calls per channel
}

func (r *fakeRecorder) Policy(_ context.Context, a ident.AccountID) (*store.RecordingPolicy, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := store.DefaultRecordingPolicy(a)
	p.Mode = r.mode
	return p, nil
}

func (r *fakeRecorder) Start(context.Context, ident.CallID, ident.AccountID) (Recording, error) {
	r.log("start")
	return fakeRecording{r}, nil
}

func (r *fakeRecorder) log(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *fakeRecorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

type fakeRecording struct{ r *fakeRecorder }

func (x fakeRecording) ID() ident.RecordingID { return "rec_x" }
func (x fakeRecording) Feed(side int, _ []int16) {
	x.r.mu.Lock()
	x.r.fed[side]++
	x.r.mu.Unlock()
}
func (x fakeRecording) Pause(context.Context) error  { x.r.log("pause"); return nil }
func (x fakeRecording) Resume(context.Context) error { x.r.log("resume"); return nil }
func (x fakeRecording) Stop(context.Context) (store.Recording, error) {
	x.r.log("stop")
	return store.Recording{}, nil
}

// call.record walks start → pause → resume → stop; each step is told to
// both parties (req_id to the requester only) and illegal steps are
// refused; the call's end stops a recording still running.
func TestRecordCommands(t *testing.T) {
	w := newWorld(t)
	rec := &fakeRecorder{mode: store.RecordingOnDemand}
	w.m.SetRecorder(rec)
	a1, b1, id := connected(t, w)
	steps := []struct {
		who  *simDevice
		act  RecordAction
		a, b []string
	}{
		{a1, RecordPause, []string{"error:invalid_message"}, nil},
		{a1, RecordStart, []string{"recording:recording/q"}, []string{"recording:recording/"}},
		{b1, RecordStart, nil, []string{"error:invalid_message"}},
		{b1, RecordPause, []string{"recording:paused/"}, []string{"recording:paused/q"}},
		{a1, RecordPause, []string{"error:invalid_message"}, nil},
		{a1, RecordResume, []string{"recording:recording/q"}, []string{"recording:recording/"}},
		{a1, RecordStop, []string{"recording:stopped/q"}, []string{"recording:stopped/"}},
		{a1, RecordStop, []string{"error:invalid_message"}, nil},
		{a1, RecordStart, []string{"recording:recording/q"}, []string{"recording:recording/"}},
	}
	for _, st := range steps {
		st.who.do(id, Record{Action: st.act, ReqID: "q"})
		w.expect(a1, st.a...)
		w.expect(b1, st.b...)
		w.quiet(a1, b1)
	}
	a1.hangup(id)
	w.expect(b1, "ended:hangup")
	w.checkFor(func() bool { return len(rec.got()) == 6 }, "recordings: %v", rec.got())
	require.Equal(t, []string{"start", "pause", "resume", "stop", "start", "stop"}, rec.got())
}

func init() { codeWords[CodeRecordingNotAllowed] = "recording_not_allowed" }

// Policy never refuses call.record (device and supervisor alike); a
// user's REST request needs the user on the call.
func TestRecordPolicyNever(t *testing.T) {
	w := newWorld(t)
	w.m.SetRecorder(&fakeRecorder{mode: store.RecordingNever})
	a1, b1, id := connected(t, w)
	a1.do(id, Record{Action: RecordStart, ReqID: "q"})
	h := w.expect(a1, "error:recording_not_allowed")
	require.Equal(t, "q", h[0].info.(Refusal).ReqID)
	ctx := context.Background()
	require.ErrorIs(t, w.m.Supervise(ctx, id, SuperviseRecord{Action: RecordStart, User: "user_c"}), ErrNoCall)
	require.ErrorIs(t, w.m.Supervise(ctx, id, SuperviseRecord{Action: RecordStart, User: "user_b"}), ErrRecordingNotAllowed)
	require.ErrorIs(t, w.m.Supervise(ctx, id, SuperviseRecord{Action: RecordStart}), ErrRecordingNotAllowed)
	w.quiet(a1, b1)
}

// Policy always records from the answer and refuses stop (pause works).
func TestRecordPolicyAlways(t *testing.T) {
	w := newWorld(t)
	rec := &fakeRecorder{mode: store.RecordingAlways}
	w.m.SetRecorder(rec)
	a1, b1, id := connected(t, w)
	w.expect(a1, "recording:recording/")
	w.expect(b1, "recording:recording/")
	require.ErrorIs(t, w.m.Supervise(context.Background(), id, SuperviseRecord{Action: RecordStop}), ErrRecordingNotAllowed)
	require.NoError(t, w.m.Supervise(context.Background(), id, SuperviseRecord{Action: RecordPause}))
	w.expect(a1, "recording:paused/")
	w.expect(b1, "recording:paused/")
	b1.hangup(id)
	w.expect(a1, "ended:hangup")
	w.checkFor(func() bool { return len(rec.got()) == 3 }, "recordings: %v", rec.got())
	require.Equal(t, []string{"start", "pause", "stop"}, rec.got())
}

// Without a recorder, call.record fails and the call goes on.
func TestRecordWithoutRecorder(t *testing.T) {
	w := newWorld(t)
	a1, b1, id := connected(t, w)
	a1.do(id, Record{Action: RecordStart})
	w.expect(a1, "error:call_failed")
	require.ErrorIs(t, w.m.Supervise(context.Background(), id, SuperviseRecord{Action: RecordStart}), ErrNoRecorder)
	w.quiet(a1, b1)
}

// A call that hands its party to another call (a park picked up, here)
// stops its recording there: the writer does not run on after the call;
// the picker's call, under policy always, records afresh.
func TestRecordingEndsWithHandOver(t *testing.T) {
	w, _ := parkWorld(t, 701, 720)
	rec := &fakeRecorder{mode: store.RecordingAlways}
	w.m.SetRecorder(rec)
	a1, b1, id := connected(t, w)
	w.expect(a1, "recording:recording/")
	w.expect(b1, "recording:recording/")
	a1.park(id)
	w.expect(a1, "parked:701", "ended:transferred")
	c1 := w.device("sess_c1", "user_c")
	pid := c1.dial("701")
	w.expect(c1, "answer", "answered", "recording:recording/")
	w.checkFor(func() bool { return len(rec.got()) == 3 }, "recordings: %v", rec.got())
	// The stop is written off the actor: it may land after the new start.
	require.ElementsMatch(t, []string{"start", "stop", "start"}, rec.got(), "the parked call's recording stops at the pickup")
	w.expect(b1, "recording:recording/")
	c1.hangup(pid)
	w.expect(b1, "ended:hangup")
	w.checkFor(func() bool { return len(rec.got()) == 4 }, "recordings: %v", rec.got())
	require.ElementsMatch(t, []string{"start", "stop", "start", "stop"}, rec.got())
}

// The sim's bridge and mixer keep a recording's tap and count beeps.
var (
	_ TappedBridge = (*simBridge)(nil)
	_ TappedMixer  = (*simMixer)(nil)
)

func (b *simBridge) SetTap(t func(bool, []int16)) {
	b.m.mu.Lock()
	b.tap = t
	b.m.mu.Unlock()
}

func (b *simBridge) Beep() {
	b.m.mu.Lock()
	b.beeps++
	b.m.mu.Unlock()
}

func (x *simMixer) SetTap(first MediaLeg, t func(bool, []int16)) {
	x.m.mu.Lock()
	defer x.m.mu.Unlock()
	x.tap, x.tapFirst = t, nil
	if first != nil {
		x.tapFirst = first.(*simLeg)
	}
}

func (x *simMixer) Beep() {
	x.m.mu.Lock()
	x.beeps++
	x.m.mu.Unlock()
}

// tapped reports the mix's tap: its first leg, whether there is one, and
// the beeps so far.
func (x *simMixer) tapped() (first *simLeg, tap func(bool, []int16), beeps int) {
	x.m.mu.Lock()
	defer x.m.mu.Unlock()
	return x.tapFirst, x.tap, x.beeps
}

// A recorded call merged into a conference goes on recording from the mix
// (channel 0 the caller, channel 1 everyone else): nobody hears it stop,
// the party who joins hears it runs, and every participant may pause,
// stop and start it again (with the beep, through the mix). The merged
// call ends its own recording; the conference's end stops the recording.
func TestRecordingGoesOnInConference(t *testing.T) {
	w := newWorld(t)
	rec, a1, b1, id := recordedCall(t, w)
	d1, id2 := secondCall(t, w, a1, b1, id)
	a1.do(id, Merge{ReqID: "r1", With: id2})
	w.expect(a1, "ended:merged", "resumed", "conference")
	w.expect(b1, "resumed")
	h := w.expect(d1, "recording:recording/")
	require.Equal(t, string(id2), h[0].call, "told under the call it knows")
	w.quiet(a1, b1, d1)
	require.Equal(t, []string{"start"}, rec.got(), "the recording goes on")

	x := mixersOf(w.media)[0]
	first, tap, _ := x.tapped()
	require.NotNil(t, tap, "the mix is tapped")
	require.Same(t, x.legs[0], first, "channel 0 stays the caller")
	tap(true, make([]int16, 160))
	tap(false, make([]int16, 160))
	rec.mu.Lock()
	require.Equal(t, [2]int{1, 1}, rec.fed)
	rec.mu.Unlock()

	steps := []struct {
		who     *simDevice
		call    ident.CallID
		act     RecordAction
		a, b, d []string
	}{
		{d1, id2, RecordPause, []string{"recording:paused/"}, []string{"recording:paused/"}, []string{"recording:paused/q"}},
		{b1, id, RecordResume, []string{"recording:recording/"}, []string{"recording:recording/q"}, []string{"recording:recording/"}},
		{a1, id, RecordStop, []string{"recording:stopped/q"}, []string{"recording:stopped/"}, []string{"recording:stopped/"}},
		{a1, id, RecordStart, []string{"recording:recording/q"}, []string{"recording:recording/"}, []string{"recording:recording/"}},
	}
	for _, st := range steps {
		st.who.do(st.call, Record{Action: st.act, ReqID: "q"})
		w.expect(a1, st.a...)
		w.expect(b1, st.b...)
		w.expect(d1, st.d...)
		w.quiet(a1, b1, d1)
	}
	w.checkFor(func() bool { return len(rec.got()) == 5 }, "recordings: %v", rec.got())
	require.Equal(t, []string{"start", "pause", "resume", "stop", "start"}, rec.got())
	_, tap, beeps := x.tapped()
	require.NotNil(t, tap, "the new recording taps the mix")
	require.Equal(t, 1, beeps, "the conference's start beeps through the mix")

	d1.hangup(id2)
	w.expect(d1, "ended:hangup")
	w.expect(a1, "conference")
	b1.hangup(id)
	w.expect(b1, "ended:hangup")
	w.expect(a1, "ended:hangup")
	w.checkFor(func() bool { return len(rec.got()) == 6 }, "recordings: %v", rec.got())
	_, tap, _ = x.tapped()
	require.Nil(t, tap, "the conference's end unhooks the recording")
}

// A conference that cannot start (the mix refuses a party) bridges the
// two parties again, and the recording's tap goes back to the bridge.
func TestRecordingTapBackOnUnmix(t *testing.T) {
	w := newWorld(t)
	w.media.mixMax = 1
	rec, a1, b1, id := recordedCall(t, w)
	d1, id2 := secondCall(t, w, a1, b1, id)
	a1.do(id, Merge{ReqID: "r1", With: id2})
	w.expect(a1, "ended:merged", "resumed", "error:call_failed")
	w.expect(d1, "ended:failed")
	w.expect(b1, "resumed")
	live := w.media.live()
	require.Len(t, live, 1)
	w.media.mu.Lock()
	tapped := live[0].tap != nil
	w.media.mu.Unlock()
	require.True(t, tapped, "the new bridge is tapped")
	require.Equal(t, []string{"start"}, rec.got())
	b1.hangup(id)
	w.expect(b1, "ended:hangup")
	w.expect(a1, "ended:hangup")
	w.checkFor(func() bool { return len(rec.got()) == 2 }, "recordings: %v", rec.got())
}

// Under policy always, a party added to a recorded call (call.add) hears
// that the conference records; the added call's own recording (from its
// answer) ends with it, the conference's goes on.
func TestRecordingConferenceAdd(t *testing.T) {
	w := newWorld(t)
	rec := &fakeRecorder{mode: store.RecordingAlways}
	w.m.SetRecorder(rec)
	a1, b1, id := connected(t, w)
	w.expect(a1, "recording:recording/")
	w.expect(b1, "recording:recording/")
	d1 := w.device("sess_d1", "user_d")
	a1.do(id, Add{ReqID: "a1", Destination: "104"})
	w.expect(a1, "conference")
	h := w.expect(d1, "incoming", "offer")
	added := ident.CallID(h[0].call)
	d1.answer(added)
	w.expect(d1, "answered", "recording:recording/", "recording:recording/")
	w.expect(a1, "conference")
	w.quiet(a1, b1, d1)
	w.checkFor(func() bool { return len(rec.got()) == 3 }, "recordings: %v", rec.got())
	require.ElementsMatch(t, []string{"start", "start", "stop"}, rec.got(), "the added call's recording ends with it")
	first, tap, _ := mixersOf(w.media)[0].tapped()
	require.NotNil(t, tap)
	require.Same(t, mixersOf(w.media)[0].legs[0], first)
	require.NoError(t, w.m.Supervise(context.Background(), id, SuperviseRecord{Action: RecordPause}))
	for _, d := range []*simDevice{a1, b1, d1} {
		w.expect(d, "recording:paused/")
	}
	a1.hangup(id)
	w.expect(a1, "ended:hangup")
	d1.hangup(added)
	w.expect(d1, "ended:hangup")
	w.expect(b1, "ended:hangup")
	w.checkFor(func() bool { return len(rec.got()) == 5 }, "recordings: %v", rec.got())
}

// A device whose session resumes hears in call.restored whether the call
// is being recorded, and how (recording or paused); a call never recorded
// or whose recording stopped restores without one.
func TestRestoredRecording(t *testing.T) {
	w := newWorld(t)
	rec := &fakeRecorder{mode: store.RecordingOnDemand}
	w.m.SetRecorder(rec)
	a1, b1, id := connected(t, w)
	steps := []struct {
		name string
		who  *simDevice
		act  RecordAction // "": none, just the restore
		want *RecordingInfo
	}{
		{"never recorded", nil, "", nil},
		{"recording", a1, RecordStart, &RecordingInfo{ID: "rec_x", State: RecordingOn}},
		{"paused", b1, RecordPause, &RecordingInfo{ID: "rec_x", State: RecordingPaused}},
		{"resumed", a1, RecordResume, &RecordingInfo{ID: "rec_x", State: RecordingOn}},
		{"stopped", b1, RecordStop, nil},
	}
	for _, st := range steps {
		if st.act != "" {
			st.who.do(id, Record{Action: st.act, ReqID: "q"})
			w.expect(a1, "recording:"+string(stateAfter(st.act))+"/"+reqIf(st.who == a1))
			w.expect(b1, "recording:"+string(stateAfter(st.act))+"/"+reqIf(st.who == b1))
		}
		for _, d := range []*simDevice{a1, b1} {
			w.m.Restore(d)
			h := w.expect(d, "restored:active")
			require.Equal(t, st.want, h[0].info.(Restored).Recording, "%s: %s", st.name, d.id)
		}
		w.quiet(a1, b1)
	}
}

func stateAfter(a RecordAction) RecordingState {
	return map[RecordAction]RecordingState{RecordStart: RecordingOn, RecordResume: RecordingOn,
		RecordPause: RecordingPaused, RecordStop: RecordingStopped}[a]
}

func reqIf(requester bool) string {
	if requester {
		return "q"
	}
	return ""
}

// recordedCall connects alice (a1) and bob (b1) with a recorder that
// records on demand, and alice starts a recording.
func recordedCall(t *testing.T, w *world) (*fakeRecorder, *simDevice, *simDevice, ident.CallID) {
	t.Helper()
	rec := &fakeRecorder{mode: store.RecordingOnDemand}
	w.m.SetRecorder(rec)
	a1, b1, id := connected(t, w)
	a1.do(id, Record{Action: RecordStart, ReqID: "q"})
	w.expect(a1, "recording:recording/q")
	w.expect(b1, "recording:recording/")
	return rec, a1, b1, id
}
