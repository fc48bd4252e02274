package sqlite

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/store"
)

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	return len(ents)
}

// TestPoolBoundsFilesUnderABurstOfCalls writes the records of 600 calls at
// once, as a call.create flood does: the pool never holds more than
// maxOpenConns connections, and once the burst is over the process is back
// to its file descriptors from before, give or take the idle connections.
func TestPoolBoundsFilesUnderABurstOfCalls(t *testing.T) {
	db := openTest(t)
	acct := newAccount(t, db, "Acme")
	ctx := context.Background()
	before := openFDs(t)

	const calls = 600
	var wg sync.WaitGroup
	var peakMu sync.Mutex
	peakFDs, peakConns := 0, 0
	errs := make(chan error, calls)
	for range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &store.CallRecord{AccountID: acct.ID, Direction: "internal", To: "102"}
			if err := db.CreateCallRecord(ctx, r); err != nil {
				errs <- err
				return
			}
			if _, err := db.GetCallRecord(ctx, r.ID); err != nil {
				errs <- err
				return
			}
			end := time.Now()
			r.EndedAt, r.EndReason = &end, "hangup"
			if err := db.UpdateCallRecord(ctx, r); err != nil {
				errs <- err
			}
			peakMu.Lock()
			peakFDs = max(peakFDs, openFDs(t))
			peakConns = max(peakConns, db.SQL().Stats().OpenConnections)
			peakMu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	recs, _, err := db.ListCallRecords(ctx, store.CallFilter{AccountID: acct.ID, ListOptions: store.ListOptions{Limit: 1}})
	require.NoError(t, err)
	require.Len(t, recs, 1)

	after := openFDs(t)
	t.Logf("fds: %d before, %d at the peak, %d after; peak connections %d", before, peakFDs, after, peakConns)
	// Every connection holds the database, -wal and -shm files.
	const perConn = 3
	require.LessOrEqual(t, peakConns, maxOpenConns)
	require.LessOrEqual(t, peakFDs, before+maxOpenConns*perConn, "files open during the burst")
	st := db.SQL().Stats()
	require.LessOrEqual(t, st.Idle, maxIdleConns)
	require.Zero(t, st.InUse)
	require.LessOrEqual(t, after, before+maxIdleConns*perConn, "files left open after the burst")
}
