// Package sqldb implements store.Store once for every SQL engine
// Switchboard runs on (SQLite and PostgreSQL) through database/sql. The
// engine packages (store/sqlite, store/postgres) open the connection
// pool, own their migrations and fill in a Dialect: placeholders, the
// insertion-order column used for paging, error classification, JSON
// membership and the clean-up after secrets are converted. Times are
// stored as RFC 3339 text on both engines, so one encoder serves both.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-voice/switchboard/internal/store"
)

// Paging limits for the List methods.
const (
	defaultLimit = 50
	maxLimit     = 200
)

// DB is a store.Store on a database/sql pool. It is safe for concurrent use.
type DB struct {
	db    *sql.DB
	dl    *Dialect
	stmts stmtCache
	secretsAtRest
}

var _ store.Store = (*DB)(nil)

// New returns a store on db, whose schema must be migrated, and converts
// secrets kept in plaintext by releases before 0005 when opts carry the
// master key (WithSecrets). On error db is left open.
func New(ctx context.Context, db *sql.DB, dl *Dialect, opts ...Option) (*DB, error) {
	d := &DB{db: db, dl: dl, secretsAtRest: newSecretsAtRest(opts)}
	if err := d.convertSecrets(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error {
	d.stmts.close()
	return d.db.Close()
}

// SQL returns the pool under the store, for the engine packages.
func (d *DB) SQL() *sql.DB { return d.db }

// exec, query and queryRow run q, written with "?" placeholders, as a
// prepared statement (stmt.go).
func (d *DB) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := d.stmts.get(ctx, d.db, d.dl.rebind(q)); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return d.db.ExecContext(ctx, d.dl.rebind(q), args...)
}

func (d *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := d.stmts.get(ctx, d.db, d.dl.rebind(q)); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return d.db.QueryContext(ctx, d.dl.rebind(q), args...)
}

func (d *DB) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := d.stmts.get(ctx, d.db, d.dl.rebind(q)); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return d.db.QueryRowContext(ctx, d.dl.rebind(q), args...)
}

// tx is a transaction whose statements are written with "?" placeholders.
type tx struct {
	tx    *sql.Tx
	dl    *Dialect
	db    *sql.DB
	stmts *stmtCache
}

func (d *DB) begin(ctx context.Context) (*tx, error) {
	t, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &tx{tx: t, dl: d.dl, db: d.db, stmts: &d.stmts}, nil
}

func (t *tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := t.stmts.get(ctx, t.db, t.dl.rebind(q)); st != nil {
		return t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, t.dl.rebind(q), args...)
}

func (t *tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.dl.rebind(q), args...)
}

func (t *tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.dl.rebind(q), args...)
}

func (t *tx) commit() error   { return t.tx.Commit() }
func (t *tx) rollback() error { return t.tx.Rollback() }

// rowScanner is satisfied by *sql.Row and *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

func (d *DB) isUnique(err error) bool     { return err != nil && d.dl.IsUnique(err) }
func (d *DB) isForeignKey(err error) bool { return err != nil && d.dl.IsForeignKey(err) }

// uniqueOn reports whether err violates a unique key that includes the
// table.column col.
func (d *DB) uniqueOn(err error, col string) bool {
	return d.isUnique(err) && strings.Contains(d.dl.UniqueKey(err), col)
}

// notFound wraps store.ErrNotFound when err is sql.ErrNoRows.
func notFound(err error, what string, key any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s %q: %w", what, key, store.ErrNotFound)
	}
	return err
}

// formatTime encodes t as RFC 3339 UTC text with nanoseconds: how every
// time is stored, on both engines.
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

// cursor returns the insertion sequence of the row with the given id in
// table, for paging after it. table is always a constant from this package.
func (d *DB) cursor(ctx context.Context, table, id string) (int64, error) {
	var seq int64
	err := d.queryRow(ctx, "SELECT "+d.dl.Seq+" FROM "+table+" WHERE id = ?", id).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("starting_after %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("look up starting_after %q: %w", id, err)
	}
	return seq, nil
}

// execOne runs a statement that must touch exactly one row; otherwise it
// returns store.ErrNotFound wrapped with what and key.
func (d *DB) execOne(ctx context.Context, what string, key any, query string, args ...any) error {
	res, err := d.exec(ctx, query, args...)
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
