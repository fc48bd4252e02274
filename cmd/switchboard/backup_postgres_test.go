package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/store/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// TestBackupPostgresSaysPgDump: with store.driver postgres, the CLI works
// on the PostgreSQL database, and backup points at pg_dump.
func TestBackupPostgresSaysPgDump(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "switchboard.yaml")
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, "store:\n  driver: postgres\n  dsn: %q\n", pgtest.DSN(t)), 0o600))
	data := filepath.Join(dir, "data")
	ctx := context.Background()
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(ctx, []string{"user", "create", "--name", "Dana", "--ext", "104", "--data", data, "--config", cfg}, &out, &errOut), errOut.String())
	out.Reset()
	require.Equal(t, 0, run(ctx, []string{"user", "list", "--data", data, "--config", cfg}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "Dana")
	_, err := os.Stat(filepath.Join(data, "switchboard.db"))
	require.True(t, os.IsNotExist(err), "no SQLite database")

	require.Equal(t, 1, run(ctx, []string{"backup", "--out", filepath.Join(dir, "copy.db"), "--data", data, "--config", cfg}, &out, &errOut))
	require.Contains(t, errOut.String(), "pg_dump")
	_, err = os.Stat(filepath.Join(dir, "copy.db"))
	require.True(t, os.IsNotExist(err))
}
