package config

import "fmt"

// Store drivers.
const (
	StoreSQLite   = "sqlite"
	StorePostgres = "postgres"
)

// EnvStoreDSN sets store.dsn (it may hold a password).
const EnvStoreDSN = "SWITCHBOARD_STORE_DSN"

// Store chooses the database: SQLite in data_dir (the default) or
// PostgreSQL at DSN. The data directory keeps the rest of the state (the
// master key file beside it, …) either way.
type Store struct {
	// Driver is "sqlite" or "postgres".
	Driver string `yaml:"driver"`
	// DSN is the PostgreSQL connection string (postgres://user:pass@host/db
	// or "host=… dbname=…"); sqlite ignores it. Env SWITCHBOARD_STORE_DSN.
	DSN string `yaml:"dsn"`
}

func defaultStore() Store { return Store{Driver: StoreSQLite} }

func (s Store) validate() []error {
	switch s.Driver {
	case StoreSQLite:
		return nil
	case StorePostgres:
		if s.DSN == "" {
			return []error{fmt.Errorf("store.dsn: must be set for store.driver postgres (or %s)", EnvStoreDSN)}
		}
		return nil
	}
	return []error{fmt.Errorf("store.driver %q: want sqlite or postgres", s.Driver)}
}
