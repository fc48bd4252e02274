package call

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

func cand(s string) *Candidate { return &Candidate{Candidate: s} }

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
					var c *Candidate
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
