// Package sqlite opens the Switchboard store on a SQLite file with the
// pure-Go modernc.org/sqlite driver: the connection pool, its pragmas, the
// SQLite schema migrations and online backups. The store itself is
// store/sqldb, shared with PostgreSQL; this package fills in its Dialect.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/switchboard-voice/switchboard/internal/secrets"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/internal/store/sqldb"
)

// dsnParams configure every pooled connection: wait up to 5 s for a lock,
// enforced foreign keys, and transactions that take the write lock at BEGIN
// (so concurrent migrations serialize instead of failing). WAL journaling is
// a property of the file, set once by enableWAL.
const dsnParams = "_pragma=busy_timeout(5000)" +
	"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"

// walWait bounds how long enableWAL retries a database another opener holds.
const walWait = 5 * time.Second

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

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the SQLite schema migrations, in order.
func Migrations() ([]sqldb.Migration, error) {
	dir, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	return sqldb.LoadMigrations(dir)
}

// DefaultRealm is the SIP realm of a store opened without WithSecrets.
const DefaultRealm = sqldb.DefaultRealm

// Option configures Open.
type Option = sqldb.Option

// WithSecrets makes the store keep SIP HA1s for realm and seal with box
// (see sqldb.WithSecrets).
func WithSecrets(realm string, box *secrets.Box) Option { return sqldb.WithSecrets(realm, box) }

// DB is the store on a SQLite file. It is safe for concurrent use.
type DB struct {
	*sqldb.DB
}

var _ store.Store = (*DB)(nil)

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

// openRaw opens the pool on path without migrating.
func openRaw(ctx context.Context, path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file:"+uriPath(path)+"?"+dsnParams)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	setPool(db)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := enableWAL(ctx, db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return db, nil
}

// enableWAL switches the file to WAL journaling. The switch needs the
// exclusive lock, and SQLite answers SQLITE_BUSY at once, without its busy
// handler, when two openers of a new file both hold the shared lock and
// want it (a deadlock it breaks by failing one); so the loser retries here.
func enableWAL(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(walWait)
	pause := 5 * time.Millisecond
	for {
		var mode string
		err := db.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode)
		if err == nil || sqliteCode(err)&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// Open opens (creating if needed) the SQLite database at path and applies any
// migrations it has not seen yet. Without WithSecrets, SIP HA1s are for
// DefaultRealm and sealing uses a key that dies with the handle (tests).
func Open(ctx context.Context, path string, opts ...Option) (*DB, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	db, err := openRaw(ctx, path)
	if err != nil {
		return nil, err
	}
	dl := NewDialect()
	if err := sqldb.Migrate(ctx, db, dl, ms); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("migrate sqlite %s: %w", path, err)
	}
	d, err := sqldb.New(ctx, db, dl, opts...)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	return &DB{DB: d}, nil
}

// NewDialect returns SQLite's dialect.
func NewDialect() *sqldb.Dialect {
	return &sqldb.Dialect{
		Name:         "sqlite",
		Seq:          "rowid",
		JSONHas:      "EXISTS (SELECT 1 FROM json_each(%s) WHERE json_each.value = ?)",
		RandomHex:    "lower(hex(randomblob(10)))",
		IsUnique:     isUnique,
		IsForeignKey: isForeignKey,
		UniqueKey:    func(err error) string { return err.Error() },
		ScrubSecrets: scrubSecrets,
	}
}

// scrubSecrets turns secure_delete on for the conversion, and afterwards
// vacuums (when rows changed) so no plaintext is left in free pages or
// the WAL.
func scrubSecrets(ctx context.Context, conn *sql.Conn) (func(bool), error) {
	if _, err := conn.ExecContext(ctx, "PRAGMA secure_delete = ON"); err != nil {
		return nil, err
	}
	return func(converted bool) {
		// Best effort: the rows are converted; these only clean up copies.
		if converted {
			_, _ = conn.ExecContext(ctx, "VACUUM")
			_, _ = conn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
		}
		_, _ = conn.ExecContext(context.Background(), "PRAGMA secure_delete = OFF")
	}, nil
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
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// isForeignKey reports whether err is a FOREIGN KEY violation.
func isForeignKey(err error) bool {
	if sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
		return true
	}
	return strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
}
