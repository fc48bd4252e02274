package secrets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeyFile says what LoadKey did with a key file.
type KeyFile struct {
	Path string
	// Created: the file did not exist and now holds a fresh key.
	Created bool
	// Loose: the file is readable by group or others.
	Loose bool
}

// LoadKey returns the master key from value (the environment) when it is
// set, else from the key file at path, creating it (mode 0600, a fresh
// GenerateKey) when it does not exist.
func LoadKey(value, path string) (Key, KeyFile, error) {
	if strings.TrimSpace(value) != "" {
		k, err := ParseKey(value)
		return k, KeyFile{}, err
	}
	info := KeyFile{Path: path}
	if path == "" {
		return Key{}, info, errors.New("secrets: no master key and no key file")
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createKeyFile(path); err != nil {
			return Key{}, info, err
		}
		info.Created = true
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return Key{}, info, fmt.Errorf("secrets: master key file: %w", err)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		info.Loose = true
	}
	k, err := ParseKey(string(b))
	if err != nil {
		return Key{}, info, fmt.Errorf("secrets: master key file %s: %w", path, err)
	}
	return k, info, nil
}

// createKeyFile writes a fresh key to path without ever replacing a file
// another process made meanwhile: the key goes to a temporary file that is
// then hard-linked into place (link fails if path exists).
func createKeyFile(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("secrets: master key file: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".master-key-*")
	if err != nil {
		return fmt.Errorf("secrets: master key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(GenerateKey() + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("secrets: master key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("secrets: master key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("secrets: master key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("secrets: master key file: %w", err)
	}
	return nil
}

// DefaultKeyFile is where the master key file goes when none is
// configured: beside the data directory, never in it, so a copy of the data
// directory does not carry the key (./data → ./data.master.key).
func DefaultKeyFile(dataDir string) string {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = filepath.Clean(dataDir)
	}
	return abs + ".master.key"
}

// Inside reports whether path is dir or inside it.
func Inside(path, dir string) bool {
	p, err1 := filepath.Abs(path)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
