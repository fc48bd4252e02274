package config

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestClusterValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Cluster)
		err    string
	}{
		{"off by default", func(*Cluster) {}, ""},
		{"one url", func(c *Cluster) { c.NATSURL = "nats://127.0.0.1:4222" }, ""},
		{"several urls", func(c *Cluster) { c.NATSURL = "nats://a:4222, tls://b:4222" }, ""},
		{"node id", func(c *Cluster) { c.NodeID = "sb-1_a" }, ""},
		{"no scheme", func(c *Cluster) { c.NATSURL = "127.0.0.1:4222" }, "cluster.nats_url"},
		{"http scheme", func(c *Cluster) { c.NATSURL = "http://127.0.0.1:4222" }, "want nats://"},
		{"no host", func(c *Cluster) { c.NATSURL = "nats://" }, "no host"},
		{"dotted node id", func(c *Cluster) { c.NodeID = "a.b" }, "cluster.node_id"},
		{"long node id", func(c *Cluster) { c.NodeID = string(make([]byte, 65)) }, "cluster.node_id"},
		{"heartbeat too short", func(c *Cluster) { c.Heartbeat = time.Millisecond }, "cluster.heartbeat"},
		{"heartbeat too long", func(c *Cluster) { c.Heartbeat = time.Hour }, "cluster.heartbeat"},
		{"negative max_calls", func(c *Cluster) { c.MaxCalls = -1 }, "cluster.max_calls"},
		{"max_cpu", func(c *Cluster) { c.MaxCPU = 0.85 }, ""},
		{"max_cpu all cores", func(c *Cluster) { c.MaxCPU = 1 }, ""},
		{"negative max_cpu", func(c *Cluster) { c.MaxCPU = -0.1 }, "cluster.max_cpu"},
		{"max_cpu over 1", func(c *Cluster) { c.MaxCPU = 85 }, "cluster.max_cpu"},
		{"max_cpu NaN", func(c *Cluster) { c.MaxCPU = math.NaN() }, "cluster.max_cpu"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(&c.Cluster)
			err := c.Validate()
			if tc.err == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tc.err)
			}
		})
	}
}

func TestClusterDefaults(t *testing.T) {
	c := Default().Cluster
	require.False(t, c.Enabled())
	require.Equal(t, 30*time.Second, c.TTL())
	require.Regexp(t, `^[A-Za-z0-9_-]+$`, c.Node())
	require.Equal(t, "n2", Cluster{NodeID: "n2"}.Node())
}
