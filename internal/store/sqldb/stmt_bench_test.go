package sqldb_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/internal/store/sqldb"
	"github.com/switchboard-voice/switchboard/internal/store/sqlite"
)

// BenchmarkCallRecordWrites writes what one call writes to a SQLite store
// (create, ringing and answered updates, a checkpoint, the ended update)
// with the statement cache and without it, in the same run:
//
//	go test -run '^$' -bench CallRecordWrites ./internal/store/sqldb
func BenchmarkCallRecordWrites(b *testing.B) {
	for _, tc := range []struct {
		name     string
		prepared bool
	}{{"prepared", true}, {"unprepared", false}} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
			require.NoError(b, err)
			b.Cleanup(func() { _ = db.Close() })
			if !tc.prepared {
				sqldb.DisableStatementCache(db.DB)
			}
			acct := &store.Account{Name: "bench"}
			require.NoError(b, db.CreateAccount(ctx, acct))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				writeOneCall(b, db.DB, acct.ID)
			}
		})
	}
}

func writeOneCall(b *testing.B, db *sqldb.DB, acct ident.AccountID) {
	ctx := context.Background()
	at := time.Now().UTC()
	r := &store.CallRecord{ID: ident.CallID("call_" + ident.Short() + ident.Short()), AccountID: acct,
		Direction: "internal", From: "101", To: "102", StartedAt: at,
		Legs: []store.LegStats{{LegID: "leg_a", Role: "caller", Kind: "webrtc"}, {LegID: "leg_b", Role: "callee", Kind: "sip"}}}
	require.NoError(b, db.CreateCallRecord(ctx, r))
	require.NoError(b, db.UpdateCallRecord(ctx, r))
	r.AnsweredAt = &at
	require.NoError(b, db.UpdateCallRecord(ctx, r))
	require.NoError(b, db.CheckpointCallRecord(ctx, r.ID, store.CallCheckpoint{At: at, Legs: r.Legs}))
	r.EndedAt, r.EndReason = &at, "hangup"
	require.NoError(b, db.UpdateCallRecord(ctx, r))
}
