package secrets

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSealRoundTrip(t *testing.T) {
	k, err := ParseKey(GenerateKey())
	require.NoError(t, err)
	b := NewBox(k)
	s := b.Seal("trunk-password")
	require.True(t, IsSealed(s))
	require.NotContains(t, s, "trunk-password")
	require.NotEqual(t, s, b.Seal("trunk-password"), "a fresh nonce each time")
	got, err := b.Open(s)
	require.NoError(t, err)
	require.Equal(t, "trunk-password", got)

	_, err = NewEphemeralBox().Open(s)
	require.ErrorIs(t, err, ErrOpen, "another key does not open it")
	_, err = b.Open(s[:len(s)-2] + "AA")
	require.ErrorIs(t, err, ErrOpen, "an altered value does not open")
	_, err = b.Open("plain")
	require.ErrorIs(t, err, ErrNotSealed)
	require.Empty(t, b.Seal(""))
	empty, err := b.Open("")
	require.NoError(t, err)
	require.Empty(t, empty)
}

func TestParseKey(t *testing.T) {
	g := GenerateKey()
	k1, err := ParseKey(g + "\n")
	require.NoError(t, err)
	k2, err := ParseKey(strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(g), "="))
	require.NoError(t, err)
	require.Equal(t, k1, k2, "standard and URL base64 are the same key")

	_, err = ParseKey("short")
	require.ErrorIs(t, err, ErrWeakKey)
	p1, err := ParseKey("correct horse battery staple")
	require.NoError(t, err)
	p2, err := ParseKey("correct horse battery staple")
	require.NoError(t, err)
	require.Equal(t, p1, p2, "a passphrase derives the same key every time")
	p3, err := ParseKey("correct horse battery stapler")
	require.NoError(t, err)
	require.NotEqual(t, p1, p3)
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "conf", "master.key")
	var wg sync.WaitGroup
	keys := make([]Key, 4)
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, _, err := LoadKey("", path)
			require.NoError(t, err)
			keys[i] = k
		}()
	}
	wg.Wait()
	for _, k := range keys {
		require.Equal(t, keys[0], k, "concurrent first starts agree on one key")
	}
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	k, info, err := LoadKey("", path)
	require.NoError(t, err)
	require.False(t, info.Created)
	require.Equal(t, keys[0], k)

	g := GenerateKey()
	fromEnv, info, err := LoadKey(g, path)
	require.NoError(t, err)
	want, _ := ParseKey(g)
	require.Equal(t, want, fromEnv, "the environment wins over the file")
	require.Empty(t, info.Path)

	require.NoError(t, os.Chmod(path, 0o644))
	_, info, err = LoadKey("", path)
	require.NoError(t, err)
	require.True(t, info.Loose)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.key"), []byte("x"), 0o600))
	_, _, err = LoadKey("", filepath.Join(dir, "bad.key"))
	require.ErrorIs(t, err, ErrWeakKey)
}

func TestDefaultKeyFileIsOutsideTheDataDir(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	require.Equal(t, filepath.Join(dir, "data.master.key"), DefaultKeyFile(data+"/"))
	require.False(t, Inside(DefaultKeyFile(data), data))
	require.True(t, Inside(filepath.Join(data, "master.key"), data))
	require.True(t, Inside(data, data))
	require.False(t, Inside(filepath.Join(dir, "..data"), data))
}

func TestDigestHA1(t *testing.T) {
	// RFC 2617 §3.5's example: Mufasa, testrealm@host.com, Circle Of Life.
	h := DigestHA1("Mufasa", "testrealm@host.com", "Circle Of Life")
	require.Equal(t, "939e7578ed9e3c518a452acee763bce9", h.MD5)
	require.Len(t, h.SHA256, 64)
	require.True(t, DigestHA1("u", "r", "").IsZero())
}
