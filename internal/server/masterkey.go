package server

import (
	"fmt"
	"log/slog"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/secrets"
)

// MasterKeyFile is where the master key file is for cfg (config
// master_key_file, else beside the data directory).
func MasterKeyFile(cfg config.Config) string {
	if cfg.MasterKeyFile != "" {
		return cfg.MasterKeyFile
	}
	return secrets.DefaultKeyFile(cfg.DataDir)
}

// masterBox loads the master key (docs/adr/0004-secrets-at-rest.md):
// SWITCHBOARD_MASTER_KEY, else the key file, made on first start.
func masterBox(cfg config.Config, log *slog.Logger) (*secrets.Box, error) {
	k, file, err := secrets.LoadKey(cfg.MasterKey, MasterKeyFile(cfg))
	if err != nil {
		if cfg.MasterKey != "" {
			return nil, fmt.Errorf("%s: %w", config.EnvMasterKey, err)
		}
		return nil, err
	}
	switch {
	case cfg.MasterKey != "":
		log.Debug("master key from the environment", "var", config.EnvMasterKey)
	case file.Created:
		log.Warn("generated a master key: back it up apart from the data directory, which cannot be read without it",
			"file", file.Path)
	}
	if file.Loose {
		log.Warn("master key file is readable by other users: chmod 600 it", "file", file.Path)
	}
	return secrets.NewBox(k), nil
}
