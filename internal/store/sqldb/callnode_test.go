package sqldb_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// A record keeps the node that created it (an update leaves it), and
// closing one node's open records leaves the other nodes' alone, as well
// as the node's records started after the cut-off.
func TestCloseNodeCallRecords(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		cut := time.Date(2025, 5, 5, 12, 0, 0, 0, time.UTC)
		mk := func(node string, started time.Time) *store.CallRecord {
			r := sampleCall("acct_a", "user_a", "")
			r.NodeID, r.StartedAt = node, started
			require.NoError(t, db.CreateCallRecord(ctx, r))
			return r
		}
		deadOld := mk("n2", cut.Add(-time.Minute))
		deadCheckpointed := mk("n2", cut.Add(-2*time.Minute))
		seen := cut.Add(-30 * time.Second)
		require.NoError(t, db.CheckpointCallRecord(ctx, deadCheckpointed.ID,
			store.CallCheckpoint{At: seen, LastMediaAt: &seen}))
		deadNew := mk("n2", cut.Add(time.Second)) // a restarted n2's
		live := mk("n1", cut.Add(-time.Minute))
		single := mk("", cut.Add(-time.Minute))

		// An update does not move a record to another node.
		upd := *deadOld
		upd.NodeID, upd.From = "elsewhere", "109"
		require.NoError(t, db.UpdateCallRecord(ctx, &upd))
		got, err := db.GetCallRecord(ctx, deadOld.ID)
		require.NoError(t, err)
		require.Equal(t, "n2", got.NodeID)
		require.Equal(t, "109", got.From)

		nodes, err := db.OpenCallRecordNodes(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"", "n1", "n2"}, nodes)

		n, err := db.CloseNodeCallRecords(ctx, "n2", "failed", cut)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		for id, want := range map[ident.CallID]time.Time{deadOld.ID: deadOld.StartedAt, deadCheckpointed.ID: seen} {
			got, err := db.GetCallRecord(ctx, id)
			require.NoError(t, err)
			require.NotNil(t, got.EndedAt, id)
			require.Equal(t, want, *got.EndedAt, id)
			require.Equal(t, "failed", got.EndReason)
		}
		for _, id := range []ident.CallID{deadNew.ID, live.ID, single.ID} {
			got, err := db.GetCallRecord(ctx, id)
			require.NoError(t, err)
			require.Nil(t, got.EndedAt, "record %s of node %q stays open", id, got.NodeID)
		}
		n, err = db.CloseNodeCallRecords(ctx, "n2", "failed", cut)
		require.NoError(t, err)
		require.Zero(t, n, "closing twice closes nothing more")

		n, err = db.CloseNodeCallRecords(ctx, "", "failed", cut)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		nodes, err = db.OpenCallRecordNodes(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"n1", "n2"}, nodes)
	})
}
