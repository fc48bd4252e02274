package sqldb_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/secrets"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/internal/store/pgtest"
	"github.com/switchboard-voice/switchboard/internal/store/postgres"
	"github.com/switchboard-voice/switchboard/internal/store/sqldb"
	"github.com/switchboard-voice/switchboard/internal/store/sqlite"
)

// The store tests run against every engine: SQLite on a temporary file and
// PostgreSQL on a fresh database of the test process's throwaway cluster
// (skipped, saying so, where PostgreSQL is not installed).

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// engine opens stores of one kind.
type engine struct {
	name string
	// target returns a function that opens one new, empty database (the
	// same one each time it is called, so a test can reopen it).
	target func(t *testing.T) func(opts ...sqldb.Option) (*sqldb.DB, error)
}

var engines = []engine{
	{name: "sqlite", target: func(t *testing.T) func(opts ...sqldb.Option) (*sqldb.DB, error) {
		path := filepath.Join(t.TempDir(), "test.db")
		return func(opts ...sqldb.Option) (*sqldb.DB, error) {
			db, err := sqlite.Open(context.Background(), path, opts...)
			if err != nil {
				return nil, err
			}
			return db.DB, nil
		}
	}},
	{name: "postgres", target: func(t *testing.T) func(opts ...sqldb.Option) (*sqldb.DB, error) {
		dsn := pgtest.DSN(t)
		return func(opts ...sqldb.Option) (*sqldb.DB, error) {
			db, err := postgres.Open(context.Background(), dsn, opts...)
			if err != nil {
				return nil, err
			}
			return db.DB, nil
		}
	}},
}

// eachEngine runs f as a subtest per engine.
func eachEngine(t *testing.T, f func(t *testing.T, e engine)) {
	t.Helper()
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) { f(t, e) })
	}
}

// open opens a store on a new, empty database, closed when t ends.
func (e engine) open(t *testing.T) *sqldb.DB {
	t.Helper()
	db, err := e.target(t)()
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func ptr[T any](v T) *T { return &v }

func newAccount(t *testing.T, db *sqldb.DB, name string) *store.Account {
	t.Helper()
	a := &store.Account{Name: name}
	require.NoError(t, db.CreateAccount(context.Background(), a))
	return a
}

func newUser(t *testing.T, db *sqldb.DB, acct ident.AccountID, ext, sip string) *store.User {
	t.Helper()
	u := &store.User{AccountID: acct, Name: "User " + ext, Extension: ext, SIPUsername: sip}
	require.NoError(t, db.CreateUser(context.Background(), u))
	return u
}

const testRealm = "sb.example"

func testBox(t *testing.T) *secrets.Box {
	t.Helper()
	k, err := secrets.ParseKey(secrets.GenerateKey())
	require.NoError(t, err)
	return secrets.NewBox(k)
}
