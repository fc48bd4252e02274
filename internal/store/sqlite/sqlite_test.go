package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/secrets"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/internal/store/sqldb"
)

// The store itself is tested against SQLite and PostgreSQL in store/sqldb;
// these are the tests of what only SQLite has: the file, its pragmas and
// pool, its migrations from old releases' files, online backups.

// stamp is a stored time, as the store writes them.
func stamp() string { return time.Now().UTC().Format(time.RFC3339Nano) }

func openTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func newAccount(t *testing.T, db *DB, name string) *store.Account {
	t.Helper()
	a := &store.Account{Name: name}
	require.NoError(t, db.CreateAccount(context.Background(), a))
	return a
}

func schemaVersion(t *testing.T, db *DB) int {
	t.Helper()
	var v int
	err := db.SQL().QueryRowContext(context.Background(),
		"SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	require.NoError(t, err)
	return v
}

func TestMigrationsIdempotentAndReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sb.db")
	ms, err := Migrations()
	require.NoError(t, err)
	require.NotEmpty(t, ms)

	db, err := Open(ctx, path)
	require.NoError(t, err)
	require.Equal(t, len(ms), schemaVersion(t, db))
	a := newAccount(t, db, "Acme")
	require.NoError(t, db.SetSetting(ctx, "k", "v"))
	require.NoError(t, db.Close())

	for range 2 {
		db, err = Open(ctx, path)
		require.NoError(t, err)
		require.Equal(t, len(ms), schemaVersion(t, db))
		var rows int
		require.NoError(t, db.SQL().QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&rows))
		require.Equal(t, len(ms), rows)
		got, err := db.GetAccount(ctx, a.ID)
		require.NoError(t, err)
		require.Equal(t, a, got)
		v, err := db.GetSetting(ctx, "k")
		require.NoError(t, err)
		require.Equal(t, "v", v)
		require.NoError(t, db.Close())
	}
}

func TestPragmas(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	var mode string
	require.NoError(t, db.SQL().QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode))
	require.Equal(t, "wal", mode)
	var fk, busy int
	require.NoError(t, db.SQL().QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk))
	require.Equal(t, 1, fk)
	require.NoError(t, db.SQL().QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy))
	require.Equal(t, 5000, busy)
}

func TestOpenPathWithURICharacters(t *testing.T) {
	ctx := context.Background()
	for _, dir := range []string{"t#01", "q?x", "p%41"} {
		path := filepath.Join(t.TempDir(), dir, "switchboard.db")
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
		db, err := Open(ctx, path)
		require.NoError(t, err)
		require.NoError(t, db.Close())
		_, err = os.Stat(path)
		require.NoError(t, err, "the database is where it was asked to be")
	}
}

// oldSchema makes a database file as a release with only the first n
// migrations left it, and returns its path and a raw handle on it (to add
// rows in that schema; close it before Open).
func oldSchema(t *testing.T, n int) (string, *sql.DB) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	raw, err := openRaw(ctx, path)
	require.NoError(t, err)
	t.Cleanup(func() { raw.Close() })
	ms, err := Migrations()
	require.NoError(t, err)
	require.NoError(t, sqldb.Migrate(ctx, raw, NewDialect(), ms[:n]))
	return path, raw
}

// latestVersion is the schema version Open migrates to.
func latestVersion(t *testing.T) int {
	t.Helper()
	ms, err := Migrations()
	require.NoError(t, err)
	return len(ms)
}

// TestConcurrentOpenMigratesOnce opens one new file from four goroutines at
// once: each open succeeds (the WAL switch that SQLite fails without waiting
// is retried) and the schema is migrated once.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shared.db")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := Open(ctx, path)
			if err == nil {
				err = db.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	db, err := Open(ctx, path)
	require.NoError(t, err)
	defer db.Close()
	ms, err := Migrations()
	require.NoError(t, err)
	require.Equal(t, len(ms), schemaVersion(t, db))
	var mode string
	require.NoError(t, db.SQL().QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode))
	require.Equal(t, "wal", mode)
}

// TestMigrationKeepsUsersExternal opens a database made before 0003: its
// users may still call out (the column defaults to 1).
func TestMigrationKeepsUsersExternal(t *testing.T) {
	ctx := context.Background()
	path, raw := oldSchema(t, 2)
	_, err := raw.ExecContext(ctx, "INSERT INTO users (id, account_id, name, extension, created_at, updated_at) "+
		"VALUES ('user_old', 'acct_x', 'Old', '100', ?, ?)", stamp(), stamp())
	require.NoError(t, err)
	require.NoError(t, raw.Close())

	db, err := Open(ctx, path)
	require.NoError(t, err)
	defer db.Close()
	require.Equal(t, latestVersion(t), schemaVersion(t, db))
	u, err := db.GetUser(ctx, "user_old")
	require.NoError(t, err)
	require.True(t, u.CanCallExternal)
}

// TestMigrationKeepsTrunksTrustedByAddress opens a database made before
// 0004: its trunks read with inbound_auth "" (by address, as before).
func TestMigrationKeepsTrunksTrustedByAddress(t *testing.T) {
	ctx := context.Background()
	path, raw := oldSchema(t, 3)
	_, err := raw.ExecContext(ctx, "INSERT INTO trunks (id, name, host, created_at, updated_at) "+
		"VALUES ('trunk_old', 'old', '192.0.2.1', ?, ?)", stamp(), stamp())
	require.NoError(t, err)
	require.NoError(t, raw.Close())

	db, err := Open(ctx, path)
	require.NoError(t, err)
	defer db.Close()
	require.Equal(t, latestVersion(t), schemaVersion(t, db))
	got, err := db.GetTrunk(ctx, "trunk_old")
	require.NoError(t, err)
	require.Equal(t, []string{"", "", ""}, []string{got.InboundAuth, got.InboundUsername, got.InboundPassword})
}

const testRealm = "sb.example"

func testBox(t *testing.T) *secrets.Box {
	t.Helper()
	k, err := secrets.ParseKey(secrets.GenerateKey())
	require.NoError(t, err)
	return secrets.NewBox(k)
}

// requireNotInFiles fails if any of words occurs in the database file or
// its WAL: what a copy of the data directory would give away.
func requireNotInFiles(t *testing.T, path string, words ...string) {
	t.Helper()
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		require.NoError(t, err)
		for _, w := range words {
			require.False(t, strings.Contains(string(b), w), "%q is in %s", w, filepath.Base(f))
		}
	}
}

// TestMigrationSealsOldSecrets opens a database made before 0005, with
// plaintext SIP passwords, trunk passwords and signing key (some of them
// also left in free pages by an earlier password change): Open converts
// them, and no plaintext is left in the files.
func TestMigrationSealsOldSecrets(t *testing.T) {
	ctx := context.Background()
	path, raw := oldSchema(t, 4)
	ts := stamp()
	for _, q := range []string{
		"INSERT INTO accounts (id, name, created_at) VALUES ('acct_a', 'A', ?)",
		"INSERT INTO users (id, account_id, name, extension, sip_username, sip_password, created_at, updated_at) VALUES ('user_a', 'acct_a', 'A', '101', '101', 'first-pass-0b1c2', ?, ?)",
		"UPDATE users SET sip_password = 'old-sip-pass-9d8e7' WHERE id = 'user_a'",
		"INSERT INTO users (id, account_id, name, extension, created_at, updated_at) VALUES ('user_b', 'acct_a', 'B', '102', ?, ?)",
		"INSERT INTO trunks (id, name, host, username, password, inbound_auth, inbound_username, inbound_password, created_at, updated_at) VALUES ('trunk_a', 'a', '192.0.2.1', 'u', 'old-trunk-pass-6f5a4', 'digest', 'pbx', 'old-in-pass-3c2b1', ?, ?)",
		"INSERT INTO trunks (id, name, host, created_at, updated_at) VALUES ('trunk_b', 'b', '192.0.2.2', ?, ?)",
		"INSERT INTO settings (key, value) VALUES ('jwt_secret', 'old-signing-key-a1b2c3'), ('sip_nonce_secret', 'kept')",
	} {
		_, err := raw.ExecContext(ctx, q, ts, ts)
		if err != nil && strings.Contains(err.Error(), "parameter") {
			_, err = raw.ExecContext(ctx, q)
		}
		require.NoError(t, err, q)
	}
	require.NoError(t, raw.Close())

	box := testBox(t)
	db, err := Open(ctx, path, WithSecrets(testRealm, box))
	require.NoError(t, err)
	require.Equal(t, latestVersion(t), schemaVersion(t, db))
	u, err := db.GetUser(ctx, "user_a")
	require.NoError(t, err)
	require.Equal(t, secrets.DigestHA1("101", testRealm, "old-sip-pass-9d8e7"), u.SIPHA1)
	b, err := db.GetUser(ctx, "user_b")
	require.NoError(t, err)
	require.True(t, b.SIPHA1.IsZero())
	tr, err := db.GetTrunk(ctx, "trunk_a")
	require.NoError(t, err)
	require.Equal(t, []string{"old-trunk-pass-6f5a4", "old-in-pass-3c2b1"}, []string{tr.Password, tr.InboundPassword})
	tr, err = db.GetTrunk(ctx, "trunk_b")
	require.NoError(t, err)
	require.Empty(t, tr.Password)
	v, err := db.GetSecret(ctx, "jwt_secret")
	require.NoError(t, err)
	require.Equal(t, "old-signing-key-a1b2c3", v)
	v, err = db.GetSetting(ctx, "sip_nonce_secret")
	require.NoError(t, err)
	require.Equal(t, "kept", v, "other settings are left alone")
	require.NoError(t, db.Close())
	requireNotInFiles(t, path, "first-pass-0b1c2", "old-sip-pass-9d8e7", "old-trunk-pass-6f5a4", "old-in-pass-3c2b1", "old-signing-key-a1b2c3")

	// Opening again converts nothing more and reads the same.
	db, err = Open(ctx, path, WithSecrets(testRealm, box))
	require.NoError(t, err)
	defer db.Close()
	u2, err := db.GetUser(ctx, "user_a")
	require.NoError(t, err)
	require.Equal(t, u.SIPHA1, u2.SIPHA1)
}
