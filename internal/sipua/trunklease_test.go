package sipua

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/store/sqlite"
)

// fakeLeases is a one-holder lease table in memory: the cluster's KV
// lease, without NATS.
type fakeLeases struct {
	mu     sync.Mutex
	holder map[string]*fakeLease
	freed  chan struct{}   // closed and replaced whenever a lease is freed
	barred map[string]bool // nodes that may not take a lease (the test's "another node won")
}

type fakeLease struct {
	ls   *fakeLeases
	key  string
	node string
	lost chan struct{}
	once sync.Once
}

func (l *fakeLease) Lost() <-chan struct{} { return l.lost }

func (l *fakeLease) Release(context.Context) error {
	l.once.Do(func() { close(l.lost) })
	l.ls.mu.Lock()
	defer l.ls.mu.Unlock()
	if l.ls.holder[l.key] == l {
		delete(l.ls.holder, l.key)
		l.ls.wakeLocked()
	}
	return nil
}

func (ls *fakeLeases) wakeLocked() {
	close(ls.freed)
	ls.freed = make(chan struct{})
}

// bar keeps node from taking leases (on) or lets it again (off).
func (ls *fakeLeases) bar(node string, on bool) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.barred == nil {
		ls.barred = map[string]bool{}
	}
	ls.barred[node] = on
	ls.wakeLocked()
}

func (ls *fakeLeases) holderOf(key string) string {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if l := ls.holder[key]; l != nil {
		return l.node
	}
	return ""
}

// gate is node's TrunkGate: it waits until the lease is free.
func (ls *fakeLeases) gate(node string) TrunkGate {
	return func(ctx context.Context, key string) (TrunkLease, error) {
		for {
			ls.mu.Lock()
			if ls.holder[key] == nil && !ls.barred[node] {
				l := &fakeLease{ls: ls, key: key, node: node, lost: make(chan struct{})}
				ls.holder[key] = l
				ls.mu.Unlock()
				return l, nil
			}
			freed := ls.freed
			ls.mu.Unlock()
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-freed:
			}
		}
	}
}

func gatedUA(t *testing.T, trunks []config.Trunk, gate TrunkGate) *UA {
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
	ua.SetTrunkGate(gate)
	require.NoError(t, ua.Start())
	return ua
}

// Two nodes with the same registering trunk: only the lease holder
// registers, the other stands by; when the holder loses its lease it
// un-registers and the other registers. A closed holder releases it.
func TestTrunkRegistrationOnLease(t *testing.T) {
	f := start(t, nil)
	ls := &fakeLeases{holder: map[string]*fakeLease{}, freed: make(chan struct{})}
	trunks := []config.Trunk{{Name: "up", Host: f.host, Port: f.port, Username: "101",
		Password: "alice-secret", Register: true}}
	a := gatedUA(t, trunks, ls.gate("a"))
	defer a.Close()
	waitState(t, a, "config:up", RegRegistered)
	b := gatedUA(t, trunks, ls.gate("b"))
	defer b.Close()
	waitState(t, b, "config:up", RegStandby)
	require.Equal(t, "a", ls.holderOf("config:up"))
	contactOn := func(ua *UA) bool {
		cs := f.ua.Registrar.Contacts(f.alice.ID)
		return len(cs) == 1 && strings.Contains(cs[0].URI, ua.Addr())
	}
	require.Eventually(t, func() bool { return contactOn(a) }, 5*time.Second, 20*time.Millisecond)

	// a loses its lease (a refresh found another holder, say): a may not
	// take it back at once, or a loaded machine lets it win the race to
	// the lease it just lost, before b's waiter runs.
	ls.bar("a", true)
	ls.mu.Lock()
	l := ls.holder["config:up"]
	ls.mu.Unlock()
	require.NoError(t, l.Release(context.Background()))
	waitState(t, b, "config:up", RegRegistered)
	require.Eventually(t, func() bool { return contactOn(b) }, 5*time.Second, 20*time.Millisecond,
		"a un-registered, b registered")
	require.Equal(t, "b", ls.holderOf("config:up"))
	waitState(t, a, "config:up", RegStandby)
	ls.bar("a", false)

	require.NoError(t, b.Close())
	require.Equal(t, RegOff, b.trunks.regs.status("config:up").State)
	waitState(t, a, "config:up", RegRegistered)
	require.Equal(t, "a", ls.holderOf("config:up"))
}
