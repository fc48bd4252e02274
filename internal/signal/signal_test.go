package signal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/auth"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

func TestPickSubprotocol(t *testing.T) {
	for _, tc := range []struct {
		offered []string
		want    string
	}{
		{[]string{protocol.Subprotocol}, protocol.Subprotocol},
		{[]string{"other.v9, " + protocol.SubprotocolAlias}, protocol.SubprotocolAlias},
		{[]string{"other.v9", " " + protocol.Subprotocol + " "}, protocol.Subprotocol},
		{[]string{"DIALSTACK.WEBRTC.V1"}, ""}, // subprotocol names are case-sensitive
		{nil, ""},
		{[]string{""}, ""},
	} {
		require.Equal(t, tc.want, pickSubprotocol(tc.offered), "%q", tc.offered)
	}
}

func TestAuthMessage(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{auth.ErrTokenExpired, "token expired"},
		{fmt.Errorf("check: %w", auth.ErrTokenRevoked), "token revoked"},
		{auth.ErrInvalidToken, "invalid token"},
		{errors.New("database is locked"), "token could not be checked"}, // no internals to the client
	} {
		require.Equal(t, tc.want, authMessage(tc.err))
	}
}

// A session without a socket keeps, for the client's return, the call.ended
// frames (the last maxBacklog) and the other frames (the first maxBacklog);
// once ended it keeps nothing.
func TestSessionBacklogWhileDetached(t *testing.T) {
	h := &Hub{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s := newSession(h, auth.Identity{UserID: "user_a", AccountID: "acct_a"})
	for i := range maxBacklog + 10 {
		s.Send(&protocol.CallEnded{CallID: fmt.Sprint("call_", i), Reason: protocol.EndHangup})
		s.Send(&protocol.CallRinging{CallID: fmt.Sprint("call_", i)})
	}
	require.Len(t, s.endings, maxBacklog)
	require.Len(t, s.missed, maxBacklog)
	var first protocol.CallEnded
	require.NoError(t, json.Unmarshal(s.endings[0].frame, &first))
	require.Equal(t, "call_10", first.CallID, "the oldest endings go first")
	var firstMissed protocol.CallRinging
	require.NoError(t, json.Unmarshal(s.missed[0], &firstMissed))
	require.Equal(t, "call_0", firstMissed.CallID, "what was missed is kept from the start")

	require.True(t, s.markEnded())
	require.False(t, s.markEnded(), "a session ends once")
	s.Send(&protocol.CallEnded{CallID: "late", Reason: protocol.EndHangup})
	require.Empty(t, s.endings)
}

type liveCalls map[*Session]bool

func (l liveCalls) HandleMessage(*Session, protocol.Message) {}
func (l liveCalls) SessionRestored(*Session)                 {}
func (l liveCalls) SessionEnded(*Session)                    {}
func (l liveCalls) HasLiveCalls(s *Session) bool             { return l[s] }
func (l liveCalls) SessionAdopted(*Session)                  {}

// The implicit resume picks the one session with live calls, and none when
// two have some (whose calls they are would be a guess).
func TestWithCalls(t *testing.T) {
	a, b, c := &Session{ID: "a"}, &Session{ID: "b"}, &Session{ID: "c"}
	for _, tc := range []struct {
		name  string
		live  liveCalls
		among []*Session
		want  []*Session
	}{
		{"none", liveCalls{}, []*Session{a, b}, nil},
		{"one of three", liveCalls{b: true}, []*Session{a, b, c}, []*Session{b}},
		{"two", liveCalls{a: true, c: true}, []*Session{a, b, c}, []*Session{a, c}},
		{"empty", liveCalls{a: true}, nil, nil},
	} {
		require.Equal(t, tc.want, withCalls(tc.live, tc.among), tc.name)
	}
}

// Across a cluster the rule counts every node's sessions: exactly one
// detached session with calls anywhere is taken (here or from its node);
// with none, exactly one connected one (its socket is then pinged).
func TestPickImplicit(t *testing.T) {
	a, b := &Session{ID: "a"}, &Session{ID: "b"}
	rd := Candidate{Session: "r1", Node: "n1"}
	rd2 := Candidate{Session: "r2", Node: "n3"}
	rc := Candidate{Session: "r3", Node: "n1", Connected: true}
	for _, tc := range []struct {
		name      string
		local     []*Session
		remote    []Candidate
		connected []*Session
		want      implicitPick
	}{
		{"nothing anywhere", nil, nil, nil, implicitPick{}},
		{"one detached here", []*Session{a}, nil, nil, implicitPick{local: a}},
		{"one detached elsewhere", nil, []Candidate{rd}, nil, implicitPick{remote: &rd}},
		{"one here, one elsewhere", []*Session{a}, []Candidate{rd}, nil, implicitPick{many: true}},
		{"two elsewhere", nil, []Candidate{rd, rd2}, nil, implicitPick{many: true}},
		{"detached beats connected", nil, []Candidate{rc, rd}, []*Session{b}, implicitPick{remote: &rd}},
		{"one connected here", nil, nil, []*Session{b}, implicitPick{stale: b}},
		{"one connected elsewhere", nil, []Candidate{rc}, nil, implicitPick{remote: &rc}},
		{"connected here and elsewhere", nil, []Candidate{rc}, []*Session{b}, implicitPick{many: true}},
	} {
		got := pickImplicit(tc.local, tc.remote, func() []*Session { return tc.connected })
		require.Equal(t, tc.want, got, tc.name)
	}
}
