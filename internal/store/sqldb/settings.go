package sqldb

import (
	"context"
	"fmt"
)

// GetSetting returns the value stored under key, or store.ErrNotFound.
func (d *DB) GetSetting(ctx context.Context, key string) (string, error) {
	var v string
	err := d.queryRow(ctx, "SELECT value FROM settings WHERE key = ?", key).Scan(&v)
	if err != nil {
		return "", notFound(err, "setting", key)
	}
	return v, nil
}

// SetSetting stores value under key, replacing any previous value.
func (d *DB) SetSetting(ctx context.Context, key, value string) error {
	_, err := d.exec(ctx,
		`INSERT INTO settings (key, value) VALUES (?, ?)
		 ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	if err != nil {
		return fmt.Errorf("set setting %q: %w", key, err)
	}
	return nil
}

// SetSettingIfAbsent stores value under key unless the key exists, and
// returns whichever value is stored afterwards.
func (d *DB) SetSettingIfAbsent(ctx context.Context, key, value string) (string, error) {
	_, err := d.exec(ctx,
		"INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", key, value)
	if err != nil {
		return "", fmt.Errorf("set setting %q: %w", key, err)
	}
	return d.GetSetting(ctx, key)
}

// GetSecret returns the value sealed under key, opened, or
// store.ErrNotFound.
func (d *DB) GetSecret(ctx context.Context, key string) (string, error) {
	v, err := d.GetSetting(ctx, key)
	if err != nil {
		return "", err
	}
	plain, err := d.openStored(v)
	if err != nil {
		return "", fmt.Errorf("setting %q: %w", key, err)
	}
	return plain, nil
}

// SetSecret stores value sealed under key, replacing any previous value.
func (d *DB) SetSecret(ctx context.Context, key, value string) error {
	return d.SetSetting(ctx, key, d.box.Seal(value))
}

// SetSecretIfAbsent stores value sealed under key unless the key exists,
// and returns whichever value is stored afterwards, opened.
func (d *DB) SetSecretIfAbsent(ctx context.Context, key, value string) (string, error) {
	if _, err := d.SetSettingIfAbsent(ctx, key, d.box.Seal(value)); err != nil {
		return "", err
	}
	return d.GetSecret(ctx, key)
}
