// Package postgres opens the Switchboard store on a PostgreSQL database
// with github.com/jackc/pgx/v5 (through its database/sql driver): the
// connection pool, the PostgreSQL schema migrations (the twins of the
// SQLite ones, same numbers and names) and error classification. The
// store itself is store/sqldb, shared with SQLite; this package fills in
// its Dialect.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver "pgx"

	"github.com/switchboard-voice/switchboard/internal/secrets"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/internal/store/sqldb"
)

// Connection pool bounds: enough for a node's concurrent calls, few enough
// that several nodes stay under the server's max_connections (100 by
// default).
const (
	maxOpenConns    = 16
	maxIdleConns    = 4
	connMaxIdleTime = time.Minute
)

// migrationLockKey is the pg_advisory_xact_lock key every migration
// transaction takes, so nodes starting together apply each migration once.
const migrationLockKey = 0x5377_6264 // "Swbd"

// eventsLockKey is the pg_advisory_xact_lock key event writers hold until
// they commit, so the event log's seq order is its commit order (a stream
// resuming after seq N must never find a smaller seq committed later).
const eventsLockKey = 0x5377_6265

// ErrBackup is what Backup returns: the store cannot copy a PostgreSQL
// database itself.
var ErrBackup = errors.New("the PostgreSQL store is backed up with pg_dump " +
	"(pg_dump --format=custom --file=FILE DSN), not by switchboard backup")

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the PostgreSQL schema migrations, in order.
func Migrations() ([]sqldb.Migration, error) {
	dir, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	return sqldb.LoadMigrations(dir)
}

// Option configures Open.
type Option = sqldb.Option

// WithSecrets makes the store keep SIP HA1s for realm and seal with box
// (see sqldb.WithSecrets).
func WithSecrets(realm string, box *secrets.Box) Option { return sqldb.WithSecrets(realm, box) }

// DB is the store on a PostgreSQL database. It is safe for concurrent use.
type DB struct {
	*sqldb.DB
}

var _ store.Store = (*DB)(nil)

// Open connects to the database dsn names (a postgres:// URL or key=value
// string, as libpq takes) and applies any migrations it has not seen yet.
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	db, err := openRaw(ctx, dsn)
	if err != nil {
		return nil, err
	}
	dl := NewDialect()
	if err := sqldb.Migrate(ctx, db, dl, ms); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("migrate postgres: %w", err)
	}
	d, err := sqldb.New(ctx, db, dl, opts...)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &DB{DB: d}, nil
}

// openRaw opens the pool without migrating.
func openRaw(ctx context.Context, dsn string) (*sql.DB, error) {
	if _, err := pgconn.ParseConfig(dsn); err != nil {
		// The error may quote the DSN, password and all: say only what failed.
		return nil, errors.New("open postgres: store.dsn is not a valid connection string")
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxIdleConns)
	db.SetConnMaxIdleTime(connMaxIdleTime)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return db, nil
}

// Backup refuses: PostgreSQL databases are backed up with pg_dump.
func (d *DB) Backup(context.Context, string) error { return ErrBackup }

// NewDialect returns PostgreSQL's dialect.
func NewDialect() *sqldb.Dialect {
	return &sqldb.Dialect{
		Name:          "postgres",
		Dollar:        true,
		Seq:           "seq",
		ForUpdate:     " FOR UPDATE",
		JSONHas:       "EXISTS (SELECT 1 FROM jsonb_array_elements_text(%s::jsonb) AS j(value) WHERE j.value = ?)",
		RandomHex:     "substr(md5(random()::text || clock_timestamp()::text), 1, 20)",
		MigrationLock: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", migrationLockKey),
		EventsLock:    fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", eventsLockKey),
		IsUnique:      func(err error) bool { return pgCode(err) == "23505" },
		IsForeignKey:  func(err error) bool { return pgCode(err) == "23503" },
		UniqueKey:     uniqueKey,
	}
}

// pgCode returns the SQLSTATE of err, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// uniqueKey names the columns of the violated unique key as "table.col, …"
// from the error's detail, "Key (account_id, extension)=(…) already
// exists." (an expression index such as lower(name) names its column).
func uniqueKey(err error) string {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return ""
	}
	rest, ok := strings.CutPrefix(pe.Detail, "Key (")
	if !ok {
		return pe.ConstraintName
	}
	cols, _, ok := strings.Cut(rest, ")=(")
	if !ok {
		return pe.ConstraintName
	}
	var out []string
	for _, c := range strings.Split(cols, ", ") {
		if i := strings.LastIndexByte(c, '('); i >= 0 {
			c = c[i+1:]
		}
		c, _, _ = strings.Cut(c, ")")
		c, _, _ = strings.Cut(c, "::")
		out = append(out, pe.TableName+"."+c)
	}
	return strings.Join(out, ", ")
}
