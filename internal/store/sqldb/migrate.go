package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migration is one numbered schema change, from a file NNNN_name.sql.
type Migration struct {
	Version int
	Name    string // the file name
	SQL     string
}

// LoadMigrations reads the NNNN_name.sql files of dir in version order and
// checks the versions run 1, 2, 3, … with no gaps.
func LoadMigrations(dir fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(dir, ".")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", e.Name())
		}
		body, err := fs.ReadFile(dir, e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: want version %d", m.Name, i+1)
		}
	}
	return ms, nil
}

// Migrate applies every migration of ms newer than the recorded schema
// version, each in its own transaction together with its
// schema_migrations row.
func Migrate(ctx context.Context, db *sql.DB, dl *Dialect, ms []Migration) error {
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TEXT NOT NULL
	)`
	if err := inMigrationTx(ctx, db, dl, func(t *tx) error {
		_, err := t.exec(ctx, create)
		return err
	}); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range ms {
		if err := inMigrationTx(ctx, db, dl, func(t *tx) error { return applyMigration(ctx, t, m) }); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return nil
}

// inMigrationTx runs f in a transaction that first takes the dialect's
// migration lock.
func inMigrationTx(ctx context.Context, db *sql.DB, dl *Dialect, f func(*tx) error) error {
	t, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = t.Rollback() }()
	x := &tx{tx: t, dl: dl}
	if dl.MigrationLock != "" {
		if _, err := x.exec(ctx, dl.MigrationLock); err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
	}
	if err := f(x); err != nil {
		return err
	}
	return t.Commit()
}

// applyMigration runs m unless it is already recorded. The check is inside
// the transaction (which holds the migration lock, or SQLite's write lock)
// so concurrent openers apply it once.
func applyMigration(ctx context.Context, t *tx, m Migration) error {
	var n int
	err := t.queryRow(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = ?", m.Version).Scan(&n)
	if err != nil || n > 0 {
		return err
	}
	// The body runs as written: no placeholders to rebind, and Postgres
	// takes several statements in one simple-protocol call.
	if _, err := t.tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	_, err = t.exec(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
		m.Version, formatTime(time.Now()))
	return err
}
