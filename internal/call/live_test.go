package call

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

// legsOf lists a snapshot's legs as "role:user:status".
func legsOf(lc LiveCall) []string {
	var out []string
	for _, l := range lc.Legs {
		out = append(out, l.Role+":"+string(l.User)+":"+l.Status)
	}
	return out
}

// A live call's snapshot follows it from ringing to answered to held,
// with each leg's latest quality window once one was rated; an ended call
// has none.
func TestLiveSnapshot(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	require.Empty(t, w.m.Live(ctx))
	a1, b1 := w.device("sess_a1", "user_a"), w.device("sess_b1", "user_b")
	id := a1.dial("102")
	w.expect(b1, "incoming", "offer")
	w.settle()
	lc, ok := w.m.LiveCall(ctx, id)
	require.True(t, ok)
	require.Equal(t, StateRinging, lc.State)
	require.Equal(t, "internal", lc.Direction)
	require.Equal(t, ident.AccountID("acct_a"), lc.Account)
	require.Equal(t, "102", lc.To)
	require.True(t, lc.AnsweredAt.IsZero())
	require.Equal(t, []string{"caller:user_a:calling", "callee:user_b:ringing"}, legsOf(lc))
	require.True(t, lc.HasUser("user_a"))
	require.True(t, lc.HasUser("user_b"))
	require.False(t, lc.HasUser("user_c"))
	require.False(t, lc.HasUser(""))

	b1.answer(id)
	w.expect(a1, "answer", "ringing", "answered")
	w.expect(b1, "answered")
	w.media.setStats(t, "webrtc", 0, MediaStats{Codec: "opus", PacketsReceived: 250, JitterMillis: 2})
	w.media.setStats(t, "webrtc", 1, MediaStats{Codec: "PCMU", PacketsReceived: 240, PacketsLost: 10, JitterMillis: 10})
	lc, _ = w.m.LiveCall(ctx, id)
	require.Equal(t, StateActive, lc.State)
	require.False(t, lc.AnsweredAt.IsZero())
	require.Equal(t, []string{"caller:user_a:connected", "callee:user_b:connected"}, legsOf(lc))
	require.Nil(t, lc.Legs[0].Quality, "no window rated yet")
	require.Equal(t, "opus", lc.Legs[0].Codec)
	require.Equal(t, "PCMU", lc.Legs[1].Codec)
	require.Equal(t, "sess_a1", lc.Legs[0].Device)
	require.Equal(t, "webrtc", lc.Legs[0].Kind)

	w.tick(qualityInterval)
	a1.hold(id)
	w.expect(a1, "held:local")
	lc, _ = w.m.LiveCall(ctx, id)
	require.Equal(t, StateHeld, lc.State)
	require.True(t, lc.Legs[0].Held)
	require.NotNil(t, lc.Legs[0].Quality)
	require.NotNil(t, lc.Legs[1].Quality)
	require.Equal(t, 4.0, lc.Legs[1].Quality.LossPct)
	require.Greater(t, lc.Legs[0].Quality.MOS, lc.Legs[1].Quality.MOS)

	all := w.m.Live(ctx)
	require.Len(t, all, 1)
	require.Equal(t, id, all[0].ID)

	a1.hangup(id)
	w.expect(b1, "held:remote", "ended:hangup")
	w.noCalls()
	_, ok = w.m.LiveCall(ctx, id)
	require.False(t, ok)
	require.Empty(t, w.m.Live(ctx))
}

// A supervisor's hangup ends the call for both parties, with reason hangup
// and each leg noted as ended by the supervisor; a ringing call too.
func TestSuperviseHangup(t *testing.T) {
	ctx := context.Background()
	t.Run("answered", func(t *testing.T) {
		w := newWorld(t)
		a1, b1, id := connected(t, w)
		require.NoError(t, w.m.Supervise(ctx, id, SuperviseHangup{}))
		w.expect(a1, "ended:hangup")
		w.expect(b1, "ended:hangup")
		w.noCalls()
		rec := w.record(id)
		require.Equal(t, "hangup", rec.EndReason)
		require.Len(t, rec.Legs, 2)
		for _, l := range rec.Legs {
			require.Equal(t, Supervisor, l.EndedBy, l.Role)
			require.Equal(t, "hangup", l.EndReason)
		}
		require.ErrorIs(t, w.m.Supervise(ctx, id, SuperviseHangup{}), ErrNoCall)
	})
	t.Run("ringing", func(t *testing.T) {
		w := newWorld(t)
		a1, b1 := w.device("sess_a1", "user_a"), w.device("sess_b1", "user_b")
		id := a1.dial("102")
		w.expect(b1, "incoming", "offer")
		require.NoError(t, w.m.Supervise(ctx, id, SuperviseHangup{}))
		w.expect(b1, "ended:hangup")
		w.noCalls()
		require.Equal(t, "hangup", w.record(id).EndReason)
	})
	require.ErrorIs(t, newWorld(t).m.Supervise(ctx, "call_nope", SuperviseHangup{}), ErrNoCall)
}

// A supervisor's transfer moves the named party to the destination with
// the blind transfer; the other party leaves "transferred".
func TestSuperviseTransfer(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name     string
		cmd      func(lc LiveCall) SuperviseTransfer
		moves    string // "a" (alice, the caller) or "b"
		wantFrom string // what Dave sees calling
	}{
		{"default: the caller", func(LiveCall) SuperviseTransfer { return SuperviseTransfer{To: "104"} }, "a", "101"},
		{"party callee", func(LiveCall) SuperviseTransfer { return SuperviseTransfer{To: "104", Party: "callee"} }, "b", "102"},
		{"leg id", func(lc LiveCall) SuperviseTransfer { return SuperviseTransfer{To: "104", Leg: lc.Legs[1].ID} }, "b", "102"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			a1, b1, id := connected(t, w)
			d1 := w.device("sess_d1", "user_d")
			lc, ok := w.m.LiveCall(ctx, id)
			require.True(t, ok)
			require.NoError(t, w.m.Supervise(ctx, id, tt.cmd(lc)))
			moved, leaving := a1, b1
			if tt.moves == "b" {
				moved, leaving = b1, a1
			}
			w.expect(leaving, "ended:transferred")
			h := w.expect(d1, "incoming", "offer")
			require.Equal(t, tt.wantFrom, h[0].info.(Info).From)
			lc, _ = w.m.LiveCall(ctx, id)
			require.True(t, lc.Transferring)
			require.Equal(t, StateRinging, lc.State)
			require.ErrorIs(t, w.m.Supervise(ctx, id, SuperviseTransfer{To: "103"}), ErrCallState)
			d1.answer(id)
			w.expect(d1, "answered")
			w.quiet(moved)
			lc, _ = w.m.LiveCall(ctx, id)
			require.False(t, lc.Transferring)
			role := "caller" // a leg keeps the role it had
			if tt.moves == "b" {
				role = "callee"
			}
			require.Equal(t, []string{role + ":" + string(moved.user) + ":connected", "callee:user_d:connected"}, legsOf(lc))
			d1.hangup(id)
			w.expect(moved, "ended:hangup")
			rec := w.record(id)
			require.Contains(t, rec.Transfer, "blind transfer by supervisor of "+string(moved.user)+" to 104")
			for _, l := range rec.Legs {
				if l.UserID == leaving.user {
					require.Equal(t, "transferred", l.EndReason)
					require.Equal(t, Supervisor, l.EndedBy)
				} else {
					require.Empty(t, l.EndedBy, l.UserID)
				}
			}
		})
	}
}

// What a supervisor's transfer refuses leaves the call as it was.
func TestSuperviseTransferRefused(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	a1, b1 := w.device("sess_a1", "user_a"), w.device("sess_b1", "user_b")
	id := a1.dial("102")
	w.expect(b1, "incoming", "offer")
	require.ErrorIs(t, w.m.Supervise(ctx, id, SuperviseTransfer{To: "103"}), ErrCallState, "ringing")
	b1.answer(id)
	w.expect(a1, "answer", "ringing", "answered")
	w.expect(b1, "answered")
	for _, tt := range []struct {
		cmd  SuperviseTransfer
		want error
	}{
		{SuperviseTransfer{To: "103", Party: "both"}, ErrNoLeg},
		{SuperviseTransfer{To: "103", Leg: "leg_nope"}, ErrNoLeg},
		{SuperviseTransfer{To: "199"}, ErrDestination},
		{SuperviseTransfer{To: "*43"}, ErrDestination},
	} {
		require.ErrorIs(t, w.m.Supervise(ctx, id, tt.cmd), tt.want, "%+v", tt.cmd)
	}
	require.Error(t, w.m.Supervise(ctx, id, Hangup{}), "not a supervisor command")
	w.quiet(a1, b1)
	lc, ok := w.m.LiveCall(ctx, id)
	require.True(t, ok)
	require.Equal(t, StateActive, lc.State)
}
