package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-voice/switchboard/internal/cluster"
	"github.com/switchboard-voice/switchboard/internal/leakcheck"
	"github.com/switchboard-voice/switchboard/internal/server"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// The relay's outbox sends to each node in order without blocking the
// sender, reports failures, flushes what is queued on close, and leaves
// no goroutine behind.
func TestOutbox(t *testing.T) {
	ns := harness.StartNATS(t)
	join := func(id string) *cluster.Node {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n, err := cluster.Connect(ctx, cluster.Options{URL: ns.URL, NodeID: id, Heartbeat: time.Second})
		require.NoError(t, err)
		return n
	}
	n1, n2 := join("n1"), join("n2")
	defer func() { _ = n2.Close() }()
	defer func() { _ = n1.Close() }()

	var mu sync.Mutex
	var got []int
	require.NoError(t, n2.Handle(cluster.NodeSubject("n2", "test"), func(_ context.Context, raw json.RawMessage) (any, error) {
		var i int
		if err := json.Unmarshal(raw, &i); err != nil {
			return nil, err
		}
		mu.Lock()
		got = append(got, i)
		mu.Unlock()
		return struct{}{}, nil
	}))
	ignore := goleak.IgnoreCurrent() // the nodes' own goroutines end with them
	o := server.NewOutbox(n1)
	const n = 200
	want := make([]int, n)
	for i := range n {
		want[i] = i
		o.Send("n2", cluster.NodeSubject("n2", "test"), i, func(err error) { t.Errorf("message %d: %v", i, err) })
	}
	failed := make(chan error, 1)
	o.Send("n3", cluster.NodeSubject("n3", "test"), 0, func(err error) { failed <- err })
	select {
	case err := <-failed:
		var ce *cluster.Error
		require.True(t, errors.As(err, &ce), "%v", err)
		require.Equal(t, cluster.CodeUnavailable, ce.Code)
	case <-time.After(5 * time.Second):
		t.Fatal("no failure for a node nobody serves")
	}
	o.Close() // flushes n2's queue
	mu.Lock()
	require.Equal(t, want, got, "every message, in order")
	mu.Unlock()
	o.Send("n2", cluster.NodeSubject("n2", "test"), n, nil) // after close: dropped
	leakcheck.None(t, ignore)
}
