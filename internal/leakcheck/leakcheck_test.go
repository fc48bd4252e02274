package leakcheck

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestFind(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	// A goroutine that ends after goleak's own half second is no leak.
	go func() { time.Sleep(time.Second) }()
	require.NoError(t, find(3*time.Second, []goleak.Option{ignore}))

	// One that never ends is, once the wait is over.
	stop := make(chan struct{})
	go func() { <-stop }()
	start := time.Now()
	err := find(time.Second, []goleak.Option{ignore})
	require.Error(t, err)
	require.Contains(t, err.Error(), "leakcheck.TestFind")
	require.GreaterOrEqual(t, time.Since(start), time.Second, "it waited")
	close(stop)
	require.NoError(t, find(3*time.Second, []goleak.Option{ignore}))
}

func TestMain(m *testing.M) { Main(m) }
