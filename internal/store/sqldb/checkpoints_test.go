package sqldb_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/internal/store/sqldb"
)

func TestCheckpointThenCloseOpenCallRecords(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		sec := func(n int) time.Time { return base.Add(time.Duration(n) * time.Second) }
		legs := []store.LegStats{
			{LegID: "leg_a", Role: "caller", Kind: "webrtc", Codec: "opus", PacketsSent: 500, PacketsReceived: 498, PacketsLost: 2, JitterMillis: 1.5},
			{LegID: "leg_b", Role: "callee", Kind: "sip", Codec: "PCMU", PacketsSent: 498, PacketsReceived: 500},
		}
		restart := sec(3600)
		tests := []struct {
			name     string
			answered *time.Time
			cp       *store.CallCheckpoint
			legacy   bool // a row written before checkpoints existed
			want     time.Time
		}{
			{name: "media seen: its last time", answered: ptr(sec(2)),
				cp: &store.CallCheckpoint{At: sec(20), LastMediaAt: ptr(sec(18)), Legs: legs}, want: sec(18)},
			{name: "no media: last checkpoint", cp: &store.CallCheckpoint{At: sec(10)}, want: sec(10)},
			{name: "never checkpointed: its start", want: sec(0)},
			{name: "never checkpointed, answered: its answer", answered: ptr(sec(3)), want: sec(3)},
			{name: "early media before the answer: the answer", answered: ptr(sec(9)),
				cp: &store.CallCheckpoint{At: sec(10), LastMediaAt: ptr(sec(5))}, want: sec(9)},
			{name: "row from before checkpoints: the restart", legacy: true, want: restart},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				db := e.open(t)
				r := sampleCall("acct_a", "user_a", "user_b")
				r.StartedAt, r.AnsweredAt = sec(0), tc.answered
				require.NoError(t, db.CreateCallRecord(ctx, r))
				if tc.legacy {
					_, err := sqldb.Exec(ctx, db, "UPDATE call_records SET checkpoint_at = NULL WHERE id = ?", r.ID)
					require.NoError(t, err)
				}
				if tc.cp != nil {
					require.NoError(t, db.CheckpointCallRecord(ctx, r.ID, *tc.cp))
				}

				n, err := db.CloseOpenCallRecords(ctx, "failed", restart)
				require.NoError(t, err)
				require.Equal(t, 1, n)
				got, err := db.GetCallRecord(ctx, r.ID)
				require.NoError(t, err)
				require.NotNil(t, got.EndedAt)
				require.Equal(t, tc.want, *got.EndedAt)
				require.Equal(t, "failed", got.EndReason)
				if tc.cp != nil && tc.cp.Legs != nil {
					require.Equal(t, tc.cp.Legs, got.Legs, "checkpointed stats kept")
				}
			})
		}
	})
}

func TestCheckpointLeavesClosedRecordAlone(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		r := sampleCall("acct_a", "user_a", "user_b")
		require.NoError(t, db.CreateCallRecord(ctx, r))
		ended := r.StartedAt.Add(time.Minute).UTC()
		r.EndedAt, r.EndReason = &ended, "hangup"
		r.Legs = []store.LegStats{{LegID: "leg_a", Role: "caller", Kind: "webrtc", PacketsReceived: 3000}}
		require.NoError(t, db.UpdateCallRecord(ctx, r))

		// A checkpoint overtaken by the call's final write changes nothing.
		require.NoError(t, db.CheckpointCallRecord(ctx, r.ID, store.CallCheckpoint{At: ended,
			Legs: []store.LegStats{{LegID: "leg_a", Role: "caller", Kind: "webrtc", PacketsReceived: 10}}}))
		got, err := db.GetCallRecord(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, r.Legs, got.Legs)
		require.Equal(t, ended, *got.EndedAt)
	})
}
