package sipua

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/internal/store/sqlite"
)

// carrierUA starts a second UA that registers to f's registrar as Alice
// (the trunks come from its config file and its own store).
func carrierUA(t *testing.T, trunks []config.Trunk) (*UA, *sqlite.DB) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	cfg := config.Default()
	cfg.SIPListen = "127.0.0.1:0"
	cfg.Trunks = trunks
	ua, err := New(ctx, cfg, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	require.NoError(t, ua.Start())
	return ua, db
}

func waitState(t *testing.T, ua *UA, key, state string) Registration {
	t.Helper()
	var r Registration
	require.Eventually(t, func() bool {
		r = ua.trunks.regs.status(key)
		return r.State == state
	}, 10*time.Second, 20*time.Millisecond, "state %q", state)
	return r
}

func TestTrunkRegistration(t *testing.T) {
	f := start(t, nil)
	ua, _ := carrierUA(t, []config.Trunk{{Name: "up", Host: f.host, Port: f.port, Username: "101",
		Password: "alice-secret", Register: true}})
	r := waitState(t, ua, "config:up", RegRegistered)
	require.WithinDuration(t, time.Now().Add(600*time.Second), r.ExpiresAt, 10*time.Second)
	cs := f.ua.Registrar.Contacts(f.alice.ID)
	require.Len(t, cs, 1)
	require.Contains(t, cs[0].URI, ua.Addr())

	require.NoError(t, ua.Close()) // un-registers
	require.Empty(t, f.ua.Registrar.Contacts(f.alice.ID))
}

func TestStoredTrunkRegistrationFollowsChanges(t *testing.T) {
	f := start(t, nil)
	ua, db := carrierUA(t, nil)
	defer ua.Close()
	ctx := context.Background()
	require.Nil(t, ua.trunks.fromSource(f.ua.Addr(), "udp"))

	st := store.Trunk{Name: "up", Host: f.host, Port: f.port, Username: "101", Password: "wrong-secret",
		Register: true, Prefixes: []string{"+1"}}
	require.NoError(t, db.CreateTrunk(ctx, &st))
	require.NoError(t, ua.ReloadTrunks(ctx))
	require.Equal(t, []string{"up"}, names(ua.trunks.route("+14155550100")))
	require.Empty(t, names(ua.trunks.route("+442071234567")))
	require.Equal(t, "up", ua.trunks.fromSource(f.ua.Addr(), "udp").Name)
	r := waitState(t, ua, string(st.ID), RegFailed)
	require.Contains(t, r.LastError, "403")
	require.Equal(t, RegFailed, ua.TrunkRegistration(st.ID).State)

	st.Password = "alice-secret"
	require.NoError(t, db.UpdateTrunk(ctx, &st))
	require.NoError(t, ua.ReloadTrunks(ctx))
	waitState(t, ua, string(st.ID), RegRegistered)
	require.Len(t, f.ua.Registrar.Contacts(f.alice.ID), 1)

	require.NoError(t, db.DeleteTrunk(ctx, st.ID))
	require.NoError(t, ua.ReloadTrunks(ctx)) // un-registers
	require.Equal(t, RegOff, ua.TrunkRegistration(st.ID).State)
	require.Empty(t, f.ua.Registrar.Contacts(f.alice.ID))
	require.Empty(t, names(ua.trunks.route("+14155550100")))
}
