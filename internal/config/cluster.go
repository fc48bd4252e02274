package config

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// Cluster joins this node to other Switchboard nodes through NATS
// (JetStream key-value buckets and request/reply). An empty NATSURL is a
// single node: nothing of the cluster runs and no NATS is needed.
type Cluster struct {
	// NATSURL is the NATS server (nats://host:4222), or several separated
	// by commas.
	NATSURL string `yaml:"nats_url"`
	// NodeID names this node among the others (letters, digits, "-" and
	// "_"). Empty: the host name's first label.
	NodeID string `yaml:"node_id"`
	// Heartbeat is how often the node refreshes what it publishes (its
	// load, its users' locations, its leases); whatever a node stops
	// refreshing vanishes after three heartbeats.
	Heartbeat time.Duration `yaml:"heartbeat"`
	// MaxCalls is the most calls this node owns at once (0: no ceiling);
	// past it new calls are refused (rate_limited, limit "node"; SIP 503)
	// naming a peer with room. It applies on a single node too.
	MaxCalls int `yaml:"max_calls"`
	// MaxCPU is a CPU ceiling, a share of all cores (0..1; 0: none): a
	// node whose CPU use over the last heartbeat is at or over it takes no
	// new calls either (cluster mode only: the cluster's meter measures it).
	MaxCPU float64 `yaml:"max_cpu"`
}

// Enabled reports whether cluster mode is on.
func (c Cluster) Enabled() bool { return c.NATSURL != "" }

// TTL is how long a published entry outlives its last refresh.
func (c Cluster) TTL() time.Duration { return 3 * c.Heartbeat }

// Node is NodeID, or the host name's first label when it is empty.
func (c Cluster) Node() string {
	if c.NodeID != "" {
		return c.NodeID
	}
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "node"
	}
	h, _, _ = strings.Cut(h, ".")
	return nodeIDChars.ReplaceAllString(h, "_")
}

var (
	nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	nodeIDChars   = regexp.MustCompile(`[^A-Za-z0-9_-]`)
)

func (c Cluster) validate() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.NodeID != "" && !nodeIDPattern.MatchString(c.NodeID) {
		bad("cluster.node_id %q: want 1 to 64 letters, digits, \"-\" or \"_\"", c.NodeID)
	}
	if c.Heartbeat < 100*time.Millisecond || c.Heartbeat > time.Minute {
		bad("cluster.heartbeat %s: want between 100ms and 1m (entries vanish after 3 heartbeats)", c.Heartbeat)
	}
	if c.MaxCalls < 0 {
		bad("cluster.max_calls %d: want 0 (no ceiling) or more", c.MaxCalls)
	}
	if !(c.MaxCPU >= 0 && c.MaxCPU <= 1) { // NaN too
		bad("cluster.max_cpu %v: want a share of all cores from 0 (no ceiling) to 1", c.MaxCPU)
	}
	if c.NATSURL == "" {
		return errs
	}
	for _, s := range strings.Split(c.NATSURL, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		switch {
		case err != nil:
			bad("cluster.nats_url %q: %v", s, err)
		case u.Scheme != "nats" && u.Scheme != "tls" && u.Scheme != "ws" && u.Scheme != "wss":
			bad("cluster.nats_url %q: want nats://host:port (or tls://, ws://, wss://)", s)
		case u.Host == "":
			bad("cluster.nats_url %q: no host", s)
		}
	}
	return errs
}
