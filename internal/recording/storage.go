package recording

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Storage keeps recording files by key ("account/call/recording.wav").
// Local directories today; an object store can stand in later (it would
// buffer a part and upload it, as File allows).
type Storage interface {
	// Create makes a new file under key for a Writer.
	Create(key string) (File, error)
	// Open reads the file under key; size is its length now.
	Open(key string) (r io.ReadSeekCloser, size int64, err error)
	// Delete removes the file; a missing file is no error.
	Delete(key string) error
}

// ErrBadKey is the error for a key that could leave the storage.
var ErrBadKey = errors.New("recording: invalid storage key")

// Dir is Storage in a local directory.
type Dir struct{ Root string }

func (d Dir) path(key string) (string, error) {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "..") || strings.ContainsRune(key, 0) ||
		filepath.Clean(key) != key {
		return "", fmt.Errorf("%w: %q", ErrBadKey, key)
	}
	return filepath.Join(d.Root, filepath.FromSlash(key)), nil
}

// Create makes the file and its directories (private to the server).
func (d Dir) Create(key string) (File, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, fmt.Errorf("recording: %w", err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("recording: %w", err)
	}
	return f, nil
}

// Open opens the file for reading.
func (d Dir) Open(key string) (io.ReadSeekCloser, int64, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, fmt.Errorf("recording: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, 0, fmt.Errorf("recording: %w", err)
	}
	return f, st.Size(), nil
}

// Delete removes the file and, when they are left empty, its call and
// account directories.
func (d Dir) Delete(key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("recording: %w", err)
	}
	for dir := filepath.Dir(p); dir != filepath.Clean(d.Root) && strings.HasPrefix(dir, d.Root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil { // not empty (or gone): stop
			break
		}
	}
	return nil
}
