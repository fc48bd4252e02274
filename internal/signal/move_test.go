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
