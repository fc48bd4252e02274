package server

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/secrets"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/internal/store/postgres"
	"github.com/switchboard-voice/switchboard/internal/store/sqlite"
)

// openStore opens the database cfg.Store names, migrated, with secrets
// sealed by box: SQLite's switchboard.db in the data directory, or
// PostgreSQL at store.dsn.
func openStore(ctx context.Context, cfg config.Config, box *secrets.Box) (store.Store, error) {
	switch cfg.Store.Driver {
	case config.StorePostgres:
		db, err := postgres.Open(ctx, cfg.Store.DSN, postgres.WithSecrets(cfg.SIP.Realm, box))
		if err != nil {
			return nil, err
		}
		return db, nil
	case config.StoreSQLite, "":
		db, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "switchboard.db"), sqlite.WithSecrets(cfg.SIP.Realm, box))
		if err != nil {
			return nil, err
		}
		return db, nil
	}
	return nil, fmt.Errorf("store.driver %q: want sqlite or postgres", cfg.Store.Driver)
}
