package signal

import (
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/auth"
	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// endedCount counts SessionEnded calls.
type endedCount struct {
	liveCalls
	n int
}

func (e *endedCount) SessionEnded(*Session) { e.n++ }

// Release hands a session over only to its user, with the call.ended
// frames of its grace period, and forgets it without ending its calls.
func TestRelease(t *testing.T) {
	h := NewHub(config.Signal{ReconnectGrace: time.Minute}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	calls := &endedCount{liveCalls: liveCalls{}}
	h.SetHandler(calls)
	s := newSession(h, auth.Identity{UserID: "user_a", AccountID: "acct_a"})
	h.sessions[s.ID] = s
	s.Send(&protocol.CallEnded{CallID: "call_1", Reason: protocol.EndHangup})

	for _, tc := range []struct {
		name string
		id   ident.SessionID
		user ident.UserID
	}{
		{"unknown session", "sess_none", "user_a"},
		{"another user's", s.ID, "user_b"},
	} {
		_, ok := h.Release(tc.id, tc.user)
		require.False(t, ok, tc.name)
	}
	require.NotNil(t, h.Session(s.ID))

	rel, ok := h.Release(s.ID, "user_a")
	require.True(t, ok)
	require.Equal(t, ident.AccountID("acct_a"), rel.Account)
	require.Len(t, rel.Endings, 1)
	var e protocol.CallEnded
	require.NoError(t, json.Unmarshal(rel.Endings[0], &e))
	require.Equal(t, "call_1", e.CallID)
	require.Nil(t, h.Session(s.ID), "the hub no longer holds it")
	require.Zero(t, calls.n, "its calls go on elsewhere")
	_, ok = h.Release(s.ID, "user_a")
	require.False(t, ok, "released once")
}

// ReleaseStale hands a detached session with live calls over with what it
// kept (the frames missed, the call.ended frames), once; it refuses one
// without calls, and one a local socket took between the check and the
// letting go (the prepared hand-over is undone).
func TestReleaseStale(t *testing.T) {
	h := NewHub(config.Signal{ReconnectGrace: time.Minute}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	calls := &endedCount{liveCalls: liveCalls{}}
	h.SetHandler(calls)
	add := func(live bool) *Session {
		s := newSession(h, auth.Identity{UserID: "user_a", AccountID: "acct_a"})
		h.sessions[s.ID] = s
		calls.liveCalls[s] = live
		return s
	}
	prepared, undone := 0, 0
	prepare := func() func() { prepared++; return func() { undone++ } }

	idle := add(false)
	_, ok := h.ReleaseStale(idle.ID, "user_a", time.Time{}, prepare)
	require.False(t, ok, "no live calls")
	s := add(true)
	_, ok = h.ReleaseStale(s.ID, "user_b", time.Time{}, prepare)
	require.False(t, ok, "another user's")
	require.Zero(t, prepared)

	_, ok = h.ReleaseStale(s.ID, "user_a", time.Now().Add(-time.Millisecond), prepare)
	require.False(t, ok, "the claimant has given up")
	require.Zero(t, prepared)
	require.NotNil(t, h.Session(s.ID), "kept here")

	s.Send(&protocol.CallHeld{CallID: "call_1", HeldBy: protocol.HeldRemote})
	s.Send(&protocol.CallEnded{CallID: "call_2", Reason: protocol.EndHangup})
	rel, ok := h.ReleaseStale(s.ID, "user_a", time.Now().Add(time.Minute), prepare)
	require.True(t, ok)
	require.Equal(t, 1, prepared)
	require.Zero(t, undone)
	require.Len(t, rel.Missed, 1)
	require.Contains(t, string(rel.Missed[0]), "call.held")
	require.Len(t, rel.Endings, 1)
	require.Nil(t, h.Session(s.ID))
	require.Zero(t, calls.n, "its calls go on elsewhere")
	_, ok = h.ReleaseStale(s.ID, "user_a", time.Time{}, prepare)
	require.False(t, ok, "released once")

	raced := add(true)
	_, ok = h.ReleaseStale(raced.ID, "user_a", time.Time{}, func() func() {
		require.True(t, raced.claim(&conn{})) // a socket here resumes it meanwhile
		return prepare()
	})
	require.False(t, ok)
	require.Equal(t, 1, undone)
	require.NotNil(t, h.Session(raced.ID), "kept by the socket that took it")
}
