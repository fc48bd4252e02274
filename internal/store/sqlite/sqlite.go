// Package sqlite implements store.Store on a SQLite file using the pure-Go
// modernc.org/sqlite driver. It owns the database schema and its versioned
// migrations, and is the only package in Switchboard that speaks SQL.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/switchboard-voice/switchboard/internal/store"
)

// Paging limits for the List methods.
const (
	defaultLimit = 50
	maxLimit     = 200
)

// dsnParams configure every pooled connection: wait up to 5 s for a lock, WAL
// journaling, enforced foreign keys, and transactions that take the write
// lock at BEGIN (so concurrent migrations serialize instead of failing).
const dsnParams = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)" +
	"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"

// Connection pool bounds. Every pooled connection holds three files (the
// database, its -wal and -shm); an unbounded pool opened one connection per
// concurrent call and a flood of calls left hundreds open. SQLite takes
// one writer at a time anyway (WAL lets readers run beside it), so a few
// connections serve any load; the rest wait their turn in database/sql.
const (
	maxOpenConns    = 8
	maxIdleConns    = 4
	connMaxIdleTime = time.Minute
)

// uriPath escapes a file path for a SQLite URI filename: "?" would start
// the query and "#" a fragment (a directory named "t#01" opened "t"
// instead), and "%" starts an escape.
func uriPath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}

// setPool bounds db's connection pool.
func setPool(db *sql.DB) {
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxIdleConns)
	db.SetConnMaxIdleTime(connMaxIdleTime)
}

// DB is a store.Store backed by a SQLite database file. It is safe for
// concurrent use.
type DB struct {
	db *sql.DB
	secretsAtRest
}

var _ store.Store = (*DB)(nil)

// Open opens (creating if needed) the SQLite database at path and applies any
// migrations it has not seen yet. Without WithSecrets, SIP HA1s are for
// DefaultRealm and sealing uses a key that dies with the handle (tests).
func Open(ctx context.Context, path string, opts ...Option) (*DB, error) {
	db, err := sql.Open("sqlite", "file:"+uriPath(path)+"?"+dsnParams)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	setPool(db)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := migrate(ctx, db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("migrate sqlite %s: %w", path, err)
	}
	d := &DB{db: db, secretsAtRest: newSecretsAtRest(opts)}
	if err := d.convertSecrets(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// rowScanner is satisfied by *sql.Row and *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// sqliteCode returns the extended SQLite result code of err, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	switch sqliteCode(err) {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// isForeignKey reports whether err is a FOREIGN KEY violation.
func isForeignKey(err error) bool {
	if sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
		return true
	}
	return err != nil && strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
}

// notFound wraps store.ErrNotFound when err is sql.ErrNoRows.
func notFound(err error, what string, key any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s %q: %w", what, key, store.ErrNotFound)
	}
	return err
}

// formatTime encodes t as RFC 3339 UTC text with nanoseconds.
func formatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// parseTime decodes text written by formatTime.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// nullTime encodes an optional time; nil is stored as NULL.
func nullTime(t *time.Time) sql.NullString {
	if t == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: formatTime(*t), Valid: true}
}

// parseNullTime decodes an optional time.
func parseNullTime(s sql.NullString) (*time.Time, error) {
	if !s.Valid {
		return nil, nil
	}
	t, err := parseTime(s.String)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// now returns the current time in UTC without a monotonic reading.
func now() time.Time { return time.Now().UTC() }

// clampLimit applies the default and the cap to a requested page size.
func clampLimit(n int) int {
	switch {
	case n <= 0:
		return defaultLimit
	case n > maxLimit:
		return maxLimit
	}
	return n
}

// cursor returns the rowid of the row with the given id in table, for paging
// after it. table is always a constant from this package.
func (d *DB) cursor(ctx context.Context, table, id string) (int64, error) {
	var rowid int64
	err := d.db.QueryRowContext(ctx, "SELECT rowid FROM "+table+" WHERE id = ?", id).Scan(&rowid)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("starting_after %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("look up starting_after %q: %w", id, err)
	}
	return rowid, nil
}

// execOne runs a statement that must touch exactly one row; otherwise it
// returns store.ErrNotFound wrapped with what and key.
func (d *DB) execOne(ctx context.Context, what string, key any, query string, args ...any) error {
	res, err := d.db.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s %q: %w", what, key, store.ErrNotFound)
	}
	return nil
}

// containsCol reports whether a constraint error names the table.column col.
func containsCol(err error, col string) bool {
	return strings.Contains(err.Error(), col)
}
