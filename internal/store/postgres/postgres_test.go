package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/secrets"
	"github.com/switchboard-voice/switchboard/internal/store/pgtest"
	"github.com/switchboard-voice/switchboard/internal/store/sqldb"
)

// The store itself is tested against both engines in store/sqldb; these
// are the tests of what only PostgreSQL has.

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

func sqlFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// TestMigrationsHaveTwins: every SQLite migration has a PostgreSQL one
// with the same number and name, and the other way round, so a new
// migration cannot be written for one engine only.
func TestMigrationsHaveTwins(t *testing.T) {
	lite, pg := sqlFiles(t, "../sqlite/migrations"), sqlFiles(t, "migrations")
	require.NotEmpty(t, lite)
	require.Equal(t, lite, pg, "store/sqlite/migrations and store/postgres/migrations must hold the same files")
	ms, err := Migrations()
	require.NoError(t, err)
	require.Len(t, ms, len(pg))
}

func schemaVersion(t *testing.T, db *DB) (max, rows int) {
	t.Helper()
	require.NoError(t, db.SQL().QueryRow("SELECT COALESCE(MAX(version), 0), COUNT(*) FROM schema_migrations").Scan(&max, &rows))
	return max, rows
}

// TestConcurrentOpenMigratesOnce: nodes starting together on one database
// apply each migration once (the advisory lock), and reopening applies
// nothing and keeps the data.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := Open(ctx, dsn)
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
	ms, err := Migrations()
	require.NoError(t, err)
	db, err := Open(ctx, dsn)
	require.NoError(t, err)
	require.NoError(t, db.SetSetting(ctx, "k", "v"))
	require.NoError(t, db.Close())
	db, err = Open(ctx, dsn)
	require.NoError(t, err)
	defer db.Close()
	version, rows := schemaVersion(t, db)
	require.Equal(t, len(ms), version)
	require.Equal(t, len(ms), rows)
	v, err := db.GetSetting(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, "v", v)
}

func testBox(t *testing.T) *secrets.Box {
	t.Helper()
	k, err := secrets.ParseKey(secrets.GenerateKey())
	require.NoError(t, err)
	return secrets.NewBox(k)
}

// TestMigrationSealsOldSecrets opens a database made before 0005, with
// plaintext SIP passwords, trunk passwords and signing key: Open converts
// them (no VACUUM here: PostgreSQL has no file to scrub the way SQLite
// does; the old row versions go with autovacuum).
func TestMigrationSealsOldSecrets(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	raw, err := openRaw(ctx, dsn)
	require.NoError(t, err)
	ms, err := Migrations()
	require.NoError(t, err)
	require.NoError(t, sqldb.Migrate(ctx, raw, NewDialect(), ms[:4]))
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	for _, q := range []string{
		"INSERT INTO accounts (id, name, created_at) VALUES ('acct_a', 'A', $1)",
		"INSERT INTO users (id, account_id, name, extension, sip_username, sip_password, created_at, updated_at) VALUES ('user_a', 'acct_a', 'A', '101', '101', 'old-sip-pass-9d8e7', $1, $1)",
		"INSERT INTO users (id, account_id, name, extension, created_at, updated_at) VALUES ('user_b', 'acct_a', 'B', '102', $1, $1)",
		"INSERT INTO trunks (id, name, host, username, password, inbound_auth, inbound_username, inbound_password, created_at, updated_at) VALUES ('trunk_a', 'a', '192.0.2.1', 'u', 'old-trunk-pass-6f5a4', 'digest', 'pbx', 'old-in-pass-3c2b1', $1, $1)",
	} {
		_, err := raw.ExecContext(ctx, q, ts)
		require.NoError(t, err, q)
	}
	_, err = raw.ExecContext(ctx, "INSERT INTO settings (key, value) VALUES ('jwt_secret', 'old-signing-key-a1b2c3'), ('sip_nonce_secret', 'kept')")
	require.NoError(t, err)
	require.NoError(t, raw.Close())

	const realm = "sb.example"
	box := testBox(t)
	db, err := Open(ctx, dsn, WithSecrets(realm, box))
	require.NoError(t, err)
	defer db.Close()
	version, _ := schemaVersion(t, db)
	require.Equal(t, len(ms), version)
	u, err := db.GetUser(ctx, "user_a")
	require.NoError(t, err)
	require.Equal(t, secrets.DigestHA1("101", realm, "old-sip-pass-9d8e7"), u.SIPHA1)
	b, err := db.GetUser(ctx, "user_b")
	require.NoError(t, err)
	require.True(t, b.SIPHA1.IsZero())
	tr, err := db.GetTrunk(ctx, "trunk_a")
	require.NoError(t, err)
	require.Equal(t, []string{"old-trunk-pass-6f5a4", "old-in-pass-3c2b1"}, []string{tr.Password, tr.InboundPassword})
	v, err := db.GetSecret(ctx, "jwt_secret")
	require.NoError(t, err)
	require.Equal(t, "old-signing-key-a1b2c3", v)
	v, err = db.GetSetting(ctx, "sip_nonce_secret")
	require.NoError(t, err)
	require.Equal(t, "kept", v, "other settings are left alone")

	var stored string
	require.NoError(t, db.SQL().QueryRow(`SELECT string_agg(sip_password || sip_ha1_md5, ' ') FROM users`).Scan(&stored))
	require.NotContains(t, stored, "old-sip-pass-9d8e7")
	require.NoError(t, db.SQL().QueryRow(`SELECT string_agg(password || inbound_password, ' ') FROM trunks`).Scan(&stored))
	require.NotContains(t, stored, "old-trunk-pass-6f5a4")
	require.NoError(t, db.SQL().QueryRow(`SELECT value FROM settings WHERE key = 'jwt_secret'`).Scan(&stored))
	require.True(t, secrets.IsSealed(stored))
}

func TestBackupSaysUsePgDump(t *testing.T) {
	db, err := Open(context.Background(), pgtest.DSN(t))
	require.NoError(t, err)
	defer db.Close()
	err = db.Backup(context.Background(), "/nonexistent")
	require.ErrorIs(t, err, ErrBackup)
	require.Contains(t, err.Error(), "pg_dump")
}

func TestOpenBadDSNHidesPassword(t *testing.T) {
	_, err := Open(context.Background(), "postgres://u:hunter2@127.0.0.1:notaport/db")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")
}

func TestUniqueKey(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"one column", &pgconn.PgError{Code: "23505", TableName: "phone_numbers", Detail: "Key (number)=(+15550100) already exists."},
			"phone_numbers.number"},
		{"two columns", &pgconn.PgError{Code: "23505", TableName: "users", Detail: "Key (account_id, extension)=(acct_a, 101) already exists."},
			"users.account_id, users.extension"},
		{"expression", &pgconn.PgError{Code: "23505", TableName: "trunks", Detail: "Key (lower(name))=(carrier) already exists."},
			"trunks.name"},
		{"wrapped", fmt.Errorf("x: %w", &pgconn.PgError{Code: "23505", TableName: "t", Detail: "Key (id)=(a) already exists."}), "t.id"},
		{"no detail", &pgconn.PgError{Code: "23505", ConstraintName: "t_pkey"}, "t_pkey"},
		{"not postgres", errors.New("boom"), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { require.Equal(t, tc.want, uniqueKey(tc.err)) })
	}
}
