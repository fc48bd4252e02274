package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/store/pgtest"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// TestPostgresStoreCall runs a real server process with store.driver
// postgres (a fresh database of the test cluster), places a call between
// two softphones, and finds its record through REST and in PostgreSQL;
// the data directory holds no SQLite database.
func TestPostgresStoreCall(t *testing.T) {
	dsn := pgtest.DSN(t)
	bin := harness.BuildBinary(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	p := harness.StartProcessIn(t, bin, dataDir, fmt.Sprintf("store:\n  driver: postgres\n  dsn: %q\n", dsn))
	alice, err := processPhone(t, p, "101", 440)
	require.NoError(t, err)
	bob, err := processPhone(t, p, "102", 1000)
	require.NoError(t, err)
	out, in := harness.Connected(t, alice, bob, "102")
	harness.HearsTone(t, in, 440)
	require.NoError(t, out.Hangup())

	var calls struct {
		Data []struct {
			ID        string     `json:"id"`
			EndedAt   *time.Time `json:"ended_at"`
			EndReason string     `json:"end_reason"`
		} `json:"data"`
	}
	harness.CheckFor(t, 10*time.Second, func() error {
		p.Get(t, "/v1/calls", &calls)
		if len(calls.Data) != 1 || calls.Data[0].EndedAt == nil {
			return fmt.Errorf("calls: %+v", calls.Data)
		}
		return nil
	})
	require.Equal(t, string(out.ID), calls.Data[0].ID)
	require.NotEmpty(t, calls.Data[0].EndReason)

	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	defer db.Close()
	var id string
	require.NoError(t, db.QueryRowContext(context.Background(), "SELECT id FROM call_records").Scan(&id))
	require.Equal(t, string(out.ID), id, "the record is in PostgreSQL")
	_, err = os.Stat(filepath.Join(dataDir, "switchboard.db"))
	require.True(t, os.IsNotExist(err), "no SQLite database in the data directory")
}
