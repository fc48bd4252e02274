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

func (x fakeRecording) ID() ident.RecordingID        { return "rec_x" }
func (x fakeRecording) Feed(int, []int16)            {}
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

// A call merged into a conference stops its recording (and says so): the
// mixer has no recording tap, so it would record silence. call.record on
// a conference is refused.
func TestRecordingStopsAtMerge(t *testing.T) {
	w := newWorld(t)
	rec := &fakeRecorder{mode: store.RecordingOnDemand}
	w.m.SetRecorder(rec)
	a1, b1, id := connected(t, w)
	a1.do(id, Record{Action: RecordStart, ReqID: "q"})
	w.expect(a1, "recording:recording/q")
	w.expect(b1, "recording:recording/")
	a1.hold(id)
	w.expect(a1, "held:local")
	w.expect(b1, "held:remote")
	d1 := w.device("sess_d1", "user_d")
	id2 := a1.dial("104")
	w.expect(d1, "incoming", "offer")
	d1.answer(id2)
	w.expect(a1, "answer", "ringing", "answered")
	w.expect(d1, "answered")
	a1.do(id, Merge{ReqID: "r1", With: id2})
	w.expect(a1, "ended:merged", "recording:stopped/", "resumed", "conference")
	w.expect(b1, "recording:stopped/", "resumed")
	w.checkFor(func() bool { return len(rec.got()) == 2 }, "recordings: %v", rec.got())
	a1.do(id, Record{Action: RecordStart, ReqID: "q2"})
	w.expect(a1, "error:recording_not_allowed")
	w.quiet(b1, d1)
}
