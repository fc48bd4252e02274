package callwire

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// Frames through the translation to a real manager: what the browser
// protocol promises at the edge of the call core.

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

func (f *recFactory) NewWebRTC(ident.LegID) (call.WebRTCMedia, error) {
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
	m := call.NewManager(media, slowDir{}, fakeDevices{[]*fakeDevice{a, b}}, fakeRecords{},
		call.Options{RingTimeout: 5 * time.Second}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, m.Shutdown(ctx))
	})
	// DialStack's order: candidates under the req_id, ice.done, then the request.
	Handle(m, a, &protocol.ICECandidate{CallID: "req_7", Candidate: "candidate:early"})
	Handle(m, a, &protocol.ICEDone{CallID: "req_7"})
	Handle(m, b, &protocol.ICECandidate{CallID: "req_7", Candidate: "candidate:other-session"})
	Handle(m, a, &protocol.CallCreate{ReqID: "req_7", Destination: "102", SDP: "v=0"})
	Handle(m, a, &protocol.ICECandidate{CallID: "req_7", Candidate: "candidate:late"})
	Handle(m, a, &protocol.ICECandidate{CallID: "call_nope", Candidate: "candidate:stray"})
	Handle(m, a, &protocol.ICEDone{CallID: "call_nope"})
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
	Handle(m, a, &protocol.CallHangup{CallID: "req_7"})
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
	Handle(m, a, &protocol.ICECandidate{CallID: callID, Candidate: "candidate:after"})
	Handle(m, a, &protocol.ICEDone{CallID: "req_7"})
	Handle(m, a, &protocol.CallHold{CallID: "call_nope"})
	a.mu.Lock()
	defer a.mu.Unlock()
	require.Len(t, a.got, 1, "only the hold is refused")
	require.Equal(t, protocol.CodeCallNotFound, a.got[0].(*protocol.Error).Code)
}

// watchedMedia is fake media that hands its death report to the test.
type watchedMedia struct {
	fakeMedia
	id      ident.LegID
	watches chan<- watch
}

type watch struct {
	leg    ident.LegID
	onDead func(string, time.Duration)
}

func (w watchedMedia) Watch(onDead func(string, time.Duration)) { w.watches <- watch{w.id, onDead} }

type watchFactory struct {
	fakeFactory
	watches chan<- watch
}

func (f watchFactory) NewWebRTC(id ident.LegID) (call.WebRTCMedia, error) {
	return watchedMedia{id: id, watches: f.watches}, nil
}

func nextWatch(t *testing.T, watches <-chan watch) watch {
	t.Helper()
	select {
	case w := <-watches:
		return w
	case <-time.After(5 * time.Second):
		t.Fatal("no leg's media was watched")
		return watch{}
	}
}

// received polls d for a message of type typ.
func received(t *testing.T, d *fakeDevice, typ protocol.Type) protocol.Message {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		d.mu.Lock()
		for _, m := range d.got {
			if m.MessageType() == typ {
				d.mu.Unlock()
				return m
			}
		}
		d.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: no %s", d.id, typ)
	return nil
}

func ended(t *testing.T, d *fakeDevice) protocol.EndReason {
	t.Helper()
	return received(t, d, protocol.TypeCallEnded).(*protocol.CallEnded).Reason
}

func callID(t *testing.T, d *fakeDevice) ident.CallID {
	t.Helper()
	return ident.CallID(received(t, d, protocol.TypeCallTrying).(*protocol.CallTrying).CallID)
}

func TestDeadMediaEndsCallFailed(t *testing.T) {
	for _, tt := range []struct {
		name string
		echo bool
		dies int // which watched leg reports dead: 0 the first watched
	}{
		{"echo test whose media never came up", true, 0},
		{"caller's media died", false, 0},
		{"callee's media died", false, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			watches := make(chan watch, 4)
			caller, callee := &fakeDevice{id: "sess_0", user: "user_a"}, &fakeDevice{id: "sess_1", user: "user_b"}
			m := call.NewManager(watchFactory{watches: watches}, fakeDir{}, fakeDevices{[]*fakeDevice{caller, callee}},
				fakeRecords{}, call.Options{RingTimeout: time.Minute}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				require.NoError(t, m.Shutdown(ctx))
			}()
			dest := "102"
			if tt.echo {
				dest = "*43"
			}
			Handle(m, caller, &protocol.CallCreate{Destination: dest, SDP: "v=0"})
			id := callID(t, caller)
			var got []watch
			if tt.echo {
				got = append(got, nextWatch(t, watches))
			} else {
				received(t, callee, protocol.TypeCallIncoming)
				Handle(m, callee, &protocol.CallAnswer{CallID: string(id)})
				Handle(m, callee, &protocol.SDPAnswer{CallID: string(id), SDP: "v=0"})
				got = append(got, nextWatch(t, watches), nextWatch(t, watches))
				require.NotEqual(t, got[0].leg, got[1].leg, "both legs are watched")
			}
			dead := got[tt.dies]
			dead.onDead("no media", 2*time.Second)
			require.Equal(t, protocol.EndFailed, ended(t, caller))
			if !tt.echo {
				require.Equal(t, protocol.EndFailed, ended(t, callee))
			}
			require.Eventually(t, func() bool { return m.Count() == 0 }, 5*time.Second, 10*time.Millisecond)
			dead.onDead("ice failed", 0) // a late report from an ended call is dropped
		})
	}
}

func TestErrorFrame(t *testing.T) {
	f := ErrorFrame(call.Refusal{Code: call.CodeRateLimited, ReqID: "r1", Msg: "slow down",
		Limit: &call.LimitError{Limit: call.LimitSocket, RetryAfter: 199*time.Millisecond + 500*time.Microsecond}}, "")
	require.Equal(t, protocol.CodeRateLimited, f.Code)
	require.Equal(t, "r1", f.ReqID)
	require.Empty(t, f.CallID)
	require.False(t, f.Fatal)
	require.Equal(t, map[string]any{"limit": "socket", "retry_after_ms": int64(200)}, f.Context)
	f = ErrorFrame(call.Refusal{Code: call.CodeRateLimited, Limit: &call.LimitError{Limit: call.LimitAccount, Max: 7}}, "")
	require.Equal(t, map[string]any{"limit": "account", "max": 7}, f.Context)
	f = ErrorFrame(call.Refusal{Code: call.CodeNotFound, Msg: "gone"}, "call_1")
	require.Equal(t, &protocol.Error{Code: protocol.CodeCallNotFound, CallID: "call_1", Message: "gone"}, f)
}
