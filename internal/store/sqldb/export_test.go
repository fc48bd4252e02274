package sqldb

import (
	"context"
	"database/sql"
)

// Exec and QueryRow run a raw statement written with "?" placeholders on
// d, for tests that reach under the store.
func Exec(ctx context.Context, d *DB, q string, args ...any) (sql.Result, error) {
	return d.exec(ctx, q, args...)
}

func QueryRow(ctx context.Context, d *DB, q string, args ...any) *sql.Row {
	return d.queryRow(ctx, q, args...)
}

// ErrBothRoutes is errBothRoutes.
var ErrBothRoutes = errBothRoutes

// DisableStatementCache makes d run every query unprepared (a benchmark's
// baseline).
func DisableStatementCache(d *DB) {
	d.stmts.mu.Lock()
	d.stmts.disabled = true
	d.stmts.mu.Unlock()
}
