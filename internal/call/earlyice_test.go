package call

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/store"
)

func cand(s string) *protocol.ICECandidate { return &protocol.ICECandidate{Candidate: s} }

func TestReqCalls(t *testing.T) {
	const sess, other = ident.SessionID("sess_a"), ident.SessionID("sess_b")
	type step struct {
		op      string // "cand", "done", "ctl" (a non-trickle frame), "bind", "wait", "forget"
		id      string
		sess    ident.SessionID
		want    ident.CallID // route: the call found ("" for none)
		wantQ   int          // bind: candidates handed over
		advance time.Duration
	}
	tests := []struct {
		name  string
		steps []step
		size  int // entries left on sess
	}{
		{name: "candidates before the request wait for it", steps: []step{
			{op: "cand", id: "req_1"}, {op: "cand", id: "req_1"}, {op: "done", id: "req_1"},
			{op: "bind", id: "req_1", want: "call_1", wantQ: 2},
			{op: "cand", id: "req_1", want: "call_1"}, {op: "ctl", id: "req_1", want: "call_1"},
		}, size: 1},
		{name: "bound without earlier candidates", steps: []step{
			{op: "bind", id: "req_1", want: "call_1"}, {op: "done", id: "req_1", want: "call_1"},
		}, size: 1},
		{name: "a non-trickle frame does not reserve an id", steps: []step{
			{op: "ctl", id: "req_1"}, {op: "bind", id: "req_1", want: "call_1", wantQ: 0},
		}, size: 1},
		{name: "other sessions do not see the id", steps: []step{
			{op: "cand", id: "req_1", sess: other}, {op: "bind", id: "req_1", want: "call_1", wantQ: 0},
			{op: "cand", id: "req_1", sess: other},
		}, size: 1},
		{name: "entries expire", steps: []step{
			{op: "bind", id: "req_1", want: "call_1"}, {op: "wait", advance: reqTTL + time.Second},
			{op: "cand", id: "req_1"},
		}, size: 1}, // the late candidate reserved the id again, unbound
		{name: "queued candidates expire", steps: []step{
			{op: "cand", id: "req_1"}, {op: "wait", advance: reqTTL + time.Second},
			{op: "bind", id: "req_1", want: "call_1", wantQ: 0},
		}, size: 1},
		{name: "empty id is never an entry", steps: []step{
			{op: "cand", id: ""}, {op: "bind", id: "", wantQ: 0},
		}, size: 0},
		{name: "forget drops the session", steps: []step{
			{op: "bind", id: "req_1", want: "call_1"}, {op: "forget"}, {op: "ctl", id: "req_1"},
		}, size: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1000, 0)
			r := newReqCalls(func() time.Time { return now })
			for i, st := range tt.steps {
				s := sess
				if st.sess != "" {
					s = st.sess
				}
				switch st.op {
				case "cand", "done", "ctl":
					var c *protocol.ICECandidate
					if st.op == "cand" {
						c = cand(fmt.Sprintf("candidate:%d", i))
					}
					got, ok := r.route(s, st.id, st.op != "ctl", c)
					require.Equal(t, st.want != "", ok, "step %d", i)
					require.Equal(t, st.want, got, "step %d", i)
				case "bind":
					require.Len(t, r.bind(s, st.id, st.want), st.wantQ, "step %d", i)
				case "wait":
					now = now.Add(st.advance)
				case "forget":
					r.forget(s)
				}
			}
			require.Equal(t, tt.size, r.size(sess))
		})
	}
}

func TestReqCallsBounds(t *testing.T) {
	now := time.Unix(1000, 0)
	r := newReqCalls(func() time.Time { return now })
	const sess = ident.SessionID("sess_a")
	for i := range maxQueuedCands + 10 {
		r.route(sess, "req_1", true, cand(fmt.Sprintf("candidate:%d", i)))
	}
	big := cand(string(make([]byte, maxQueuedCandSz+1)))
	r.route(sess, "req_2", true, big)
	require.Len(t, r.bind(sess, "req_2", "call_2"), 0, "an oversized candidate is not kept")
	for i := range maxReqEntries * 3 {
		r.route(sess, fmt.Sprintf("stray_%d", i), true, cand("candidate:x"))
	}
	require.Equal(t, maxReqEntries, r.size(sess))
	require.Empty(t, r.bind(sess, "req_1", "call_1"), "the oldest entries were evicted")

	r2 := newReqCalls(func() time.Time { return now })
	for i := range maxQueuedCands + 10 {
		r2.route(sess, "req_1", true, cand(fmt.Sprintf("candidate:%d", i)))
	}
	require.Len(t, r2.bind(sess, "req_1", "call_1"), maxQueuedCands)
}

// recMedia records the candidates applied to it.
type recMedia struct {
	fakeMedia
	mu    *sync.Mutex
	cands *[]string
}

func (m recMedia) AddCandidate(c string, _ *string, _ *uint16) error {
	m.mu.Lock()
	*m.cands = append(*m.cands, c)
	m.mu.Unlock()
	return nil
}

type recFactory struct {
	fakeFactory
	mu    sync.Mutex
	cands []string
}

func (f *recFactory) NewWebRTC(ident.LegID) (WebRTCMedia, error) {
	return recMedia{mu: &f.mu, cands: &f.cands}, nil
}

func (f *recFactory) applied() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cands...)
}

// slowDir rings every user for a minute.
type slowDir struct{ fakeDir }

func slow(u *store.User, err error) (*store.User, error) {
	if err != nil {
		return nil, err
	}
	c := *u
	c.RingTimeoutSeconds = 60
	return &c, nil
}

func (d slowDir) GetUser(ctx context.Context, id ident.UserID) (*store.User, error) {
	return slow(d.fakeDir.GetUser(ctx, id))
}

func (d slowDir) GetUserByExtension(ctx context.Context, a ident.AccountID, ext string) (*store.User, error) {
	return slow(d.fakeDir.GetUserByExtension(ctx, a, ext))
}

func TestEarlyTrickleReachesTheCall(t *testing.T) {
	media := &recFactory{}
	a := &fakeDevice{id: "sess_a", user: "user_a"}
	b := &fakeDevice{id: "sess_b", user: "user_b"}
	m := NewManager(media, slowDir{}, fakeDevices{[]*fakeDevice{a, b}}, fakeRecords{},
		Options{RingTimeout: 5 * time.Second}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, m.Shutdown(ctx))
	})
	// DialStack's order: candidates under the req_id, ice.done, then the request.
	m.Handle(a, &protocol.ICECandidate{CallID: "req_7", Candidate: "candidate:early"})
	m.Handle(a, &protocol.ICEDone{CallID: "req_7"})
	m.Handle(b, &protocol.ICECandidate{CallID: "req_7", Candidate: "candidate:other-session"})
	m.Handle(a, &protocol.CallCreate{ReqID: "req_7", Destination: "102", SDP: "v=0"})
	m.Handle(a, &protocol.ICECandidate{CallID: "req_7", Candidate: "candidate:late"})
	m.Handle(a, &protocol.ICECandidate{CallID: "call_nope", Candidate: "candidate:stray"})
	m.Handle(a, &protocol.ICEDone{CallID: "call_nope"})
	require.Eventually(t, func() bool { return len(media.applied()) == 2 }, 5*time.Second, 10*time.Millisecond)
	require.ElementsMatch(t, []string{"candidate:early", "candidate:late"}, media.applied())
	for _, d := range []*fakeDevice{a, b} {
		d.mu.Lock()
		for _, msg := range d.got {
			_, isErr := msg.(*protocol.Error)
			require.False(t, isErr, "no error frame for trickle: %#v", msg)
		}
		d.mu.Unlock()
	}
	require.True(t, m.HasLiveCalls("sess_a"), "the caller's session holds the call")
	require.Eventually(t, func() bool { return m.HasLiveCalls("sess_b") }, 5*time.Second, 10*time.Millisecond,
		"the alerted callee's session holds the call")
	require.False(t, m.HasLiveCalls("sess_none"))
	// A control frame under the req_id reaches the call too.
	m.Handle(a, &protocol.CallHangup{CallID: "req_7"})
	require.Eventually(t, func() bool { return m.Count() == 0 }, 5*time.Second, 10*time.Millisecond)
	require.False(t, m.HasLiveCalls("sess_a"))
	// Late candidates of the ended call: dropped, no error either.
	a.mu.Lock()
	var callID string
	for _, msg := range a.got {
		if tr, ok := msg.(*protocol.CallTrying); ok {
			callID = tr.CallID
		}
	}
	a.got = nil
	a.mu.Unlock()
	require.NotEmpty(t, callID)
	m.Handle(a, &protocol.ICECandidate{CallID: callID, Candidate: "candidate:after"})
	m.Handle(a, &protocol.ICEDone{CallID: "req_7"})
	m.Handle(a, &protocol.CallHold{CallID: "call_nope"})
	a.mu.Lock()
	defer a.mu.Unlock()
	require.Len(t, a.got, 1, "only the hold is refused")
	require.Equal(t, protocol.CodeCallNotFound, a.got[0].(*protocol.Error).Code)
}
