package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBackup(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	ctx := context.Background()
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(ctx, []string{"user", "create", "--name", "Dana", "--ext", "104", "--data", data}, &out, &errOut), errOut.String())

	copyPath := filepath.Join(dir, "copy.db")
	out.Reset()
	require.Equal(t, 0, run(ctx, []string{"backup", "--out", copyPath, "--data", data}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "Backed up to "+copyPath)

	// Restoring: the copy as another data directory's database, with the
	// same master key (kept beside the data directory by default).
	restored := filepath.Join(dir, "restored")
	require.NoError(t, os.MkdirAll(restored, 0o700))
	require.NoError(t, os.Rename(copyPath, filepath.Join(restored, "switchboard.db")))
	key, err := os.ReadFile(data + ".master.key")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(restored+".master.key", key, 0o600))
	out.Reset()
	require.Equal(t, 0, run(ctx, []string{"user", "list", "--data", restored}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "Dana")

	require.NoError(t, os.WriteFile(copyPath, nil, 0o600))
	errOut.Reset()
	require.Equal(t, 1, run(ctx, []string{"backup", "--out", copyPath, "--data", data}, &out, &errOut), "an existing file is not overwritten")
	require.Contains(t, errOut.String(), "exists")
	require.Equal(t, 2, run(ctx, []string{"backup", "--data", data}, &out, &errOut), "--out is required")
}
