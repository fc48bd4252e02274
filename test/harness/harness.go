// Package harness starts whole Switchboard servers for end-to-end tests (on
// port 0 with a temporary data directory) and gives tests small clients.
package harness

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/server"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/test/rest"
)

// AdminKey is the admin API key of every test server.
const AdminKey = "test-admin-key"

// Server is a running test server with demo users.
type Server struct {
	*server.Server
	Alice, Bob, Carol store.User
}

// Start runs a server on 127.0.0.1:0; mutate adjusts the config first. The
// server is shut down when the test ends.
func Start(t testing.TB, mutate func(*config.Config)) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.SIPListen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.AdminKey = AdminKey
	cfg.Media.IncludeLoopback = true
	if mutate != nil {
		mutate(&cfg)
	}
	require.NoError(t, cfg.Validate())
	ctx := context.Background()
	level := slog.LevelWarn
	if os.Getenv("SWITCHBOARD_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	srv, err := server.Open(ctx, cfg, log)
	require.NoError(t, err)
	require.NoError(t, srv.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	demo, err := srv.EnsureDemo(ctx)
	require.NoError(t, err)
	return &Server{Server: srv, Alice: demo[0].User, Bob: demo[1].User, Carol: demo[2].User}
}

// Token mints a token for u valid for ttl.
func (s *Server) Token(t testing.TB, u store.User, ttl time.Duration) string {
	t.Helper()
	tok, _, err := s.Tokens.Mint(&u, ttl)
	require.NoError(t, err)
	return tok
}

// Response is a decoded REST reply.
type Response = rest.Response

// Do sends a REST request with the given bearer (may be empty) and body
// (a string is sent as is; anything else is JSON-encoded).
func (s *Server) Do(t testing.TB, method, path, bearer string, body any) Response {
	t.Helper()
	return rest.Do(t, method, s.URL()+path, bearer, body)
}

// CheckFor polls fn until it returns nil or timeout passes, then fails the
// test with fn's last error.
func CheckFor(t testing.TB, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("CheckFor: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
