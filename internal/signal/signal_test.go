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

// The implicit resume picks the one session with live calls, and none when
// two have some (whose calls they are would be a guess).
func TestOneWithCalls(t *testing.T) {
	a, b, c := &Session{ID: "a"}, &Session{ID: "b"}, &Session{ID: "c"}
	for _, tc := range []struct {
		name  string
		live  liveCalls
		among []*Session
		want  *Session
		many  bool
	}{
		{"none", liveCalls{}, []*Session{a, b}, nil, false},
		{"one of three", liveCalls{b: true}, []*Session{a, b, c}, b, false},
		{"two", liveCalls{a: true, c: true}, []*Session{a, b, c}, nil, true},
		{"empty", liveCalls{a: true}, nil, nil, false},
	} {
		got, many := oneWithCalls(tc.live, tc.among)
		require.Equal(t, tc.want, got, tc.name)
		require.Equal(t, tc.many, many, tc.name)
	}
}
