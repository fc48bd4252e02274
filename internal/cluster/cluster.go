// Package cluster joins Switchboard nodes through NATS: a location registry
// of users' devices (which node holds which WebSocket session or SIP
// registration), leases that exactly one node holds, each node's load and
// liveness, a presence bus, the accounts' park slots (park.go), and typed
// request/reply between nodes. State lives in JetStream key-value buckets
// whose entries expire unless the node that wrote them refreshes them
// every heartbeat, so a node that dies vanishes from the cluster within
// one TTL (three heartbeats).
//
// The package knows nothing of calls, SIP or WebRTC: the server wires it.
package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Bucket names; every node of a cluster uses the same.
const (
	BucketLocations = "sb_locations"
	BucketLeases    = "sb_leases"
	BucketNodes     = "sb_nodes"
	BucketParks     = "sb_parks"
)

// DefaultHeartbeat is the refresh period when Options.Heartbeat is zero.
const DefaultHeartbeat = 10 * time.Second

// Options say how a node joins the cluster.
type Options struct {
	URL    string // NATS server URL(s), comma separated
	NodeID string // this node's id: letters, digits, "-", "_"
	// Heartbeat is how often the node refreshes its entries; entries
	// live 3 heartbeats (the buckets' TTL).
	Heartbeat time.Duration
	// Load reports the node's load at each heartbeat (nil: zero).
	Load func() Load
	Log  *slog.Logger
}

// ErrClosed is returned by a node that was closed.
var ErrClosed = errors.New("cluster: node closed")

// Node is this process's membership of the cluster. It owns one NATS
// connection and one heartbeat goroutine; Close stops both.
type Node struct {
	id        string
	heartbeat time.Duration
	ttl       time.Duration
	log       *slog.Logger
	load      func() Load
	started   time.Time

	nc     *nats.Conn
	js     jetstream.JetStream
	locs   jetstream.KeyValue
	leases jetstream.KeyValue
	nodes  jetstream.KeyValue

	cpu cpuMeter

	putMu sync.Mutex // orders binding writes: Bind, Unbind, refresh

	mu       sync.Mutex
	bindings map[string]Binding // by key: what this node keeps alive
	held     map[string]*Lease  // by lease name
	cpuShare float64            // the last CPU sample
	subs     []*nats.Subscription
	closed   bool

	stop chan struct{}
	wg   sync.WaitGroup

	// parks is the park slots' bucket (park.go); parkMu orders the
	// node's writes to it (claim, release, refresh); parkHeld, under mu,
	// is the claims this node keeps alive, by key.
	parks    jetstream.KeyValue
	parkMu   sync.Mutex
	parkHeld map[string]*parkHold
	parkGone map[string]uint64 // released claims whose delete failed (under parkMu)
	parkLost func(ParkClaim)   // under mu (OnParkLost)
}

// Connect joins the cluster: it connects to NATS, makes the buckets if
// they are missing, publishes the node's first heartbeat, and starts
// refreshing.
func Connect(ctx context.Context, o Options) (*Node, error) {
	if !nodeIDPattern(o.NodeID) {
		return nil, fmt.Errorf("cluster: node id %q: want 1 to 64 letters, digits, \"-\" or \"_\"", o.NodeID)
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Load == nil {
		o.Load = func() Load { return Load{} }
	}
	n := &Node{id: o.NodeID, heartbeat: o.Heartbeat, ttl: 3 * o.Heartbeat, log: o.Log.With("node", o.NodeID),
		load: o.Load, started: time.Now().UTC(), bindings: map[string]Binding{}, held: map[string]*Lease{},
		parkHeld: map[string]*parkHold{}, parkGone: map[string]uint64{}, stop: make(chan struct{})}
	nc, err := nats.Connect(o.URL, nats.Name("switchboard "+o.NodeID), nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second), nats.Timeout(5*time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { n.log.Warn("cluster: nats disconnected", "err", err) }),
		nats.ReconnectHandler(func(c *nats.Conn) { n.log.Info("cluster: nats reconnected", "url", c.ConnectedUrlRedacted()) }))
	if err != nil {
		return nil, fmt.Errorf("cluster: connect %s: %w", o.URL, err)
	}
	n.nc = nc
	if err := n.open(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	if err := n.clearStaleParks(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	if err := n.serveRequests(); err != nil {
		n.closeConn()
		return nil, err
	}
	if err := n.publishNode(ctx); err != nil {
		n.closeConn()
		return nil, err
	}
	n.wg.Add(1)
	go n.loop()
	n.log.Info("cluster: joined", "url", nc.ConnectedUrlRedacted(), "heartbeat", n.heartbeat)
	return n, nil
}

// open makes (or updates) the buckets with this node's TTL.
func (n *Node) open(ctx context.Context) (err error) {
	if n.js, err = jetstream.New(n.nc); err != nil {
		return fmt.Errorf("cluster: jetstream: %w", err)
	}
	kv := func(bucket, what string) (jetstream.KeyValue, error) {
		cfg := jetstream.KeyValueConfig{Bucket: bucket, Description: what, History: 1, TTL: n.ttl,
			Storage: jetstream.MemoryStorage}
		b, err := n.js.CreateKeyValue(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) {
			// Another node made it, maybe with another heartbeat: the
			// latest node's TTL wins (nodes should agree; log it).
			n.log.Debug("cluster: bucket exists, updating", "bucket", bucket)
			b, err = n.js.UpdateKeyValue(ctx, cfg)
		}
		if err != nil {
			return nil, fmt.Errorf("cluster: bucket %s: %w", bucket, err)
		}
		return b, nil
	}
	if n.locs, err = kv(BucketLocations, "where users' devices are connected"); err != nil {
		return err
	}
	if n.leases, err = kv(BucketLeases, "leases: one holder each"); err != nil {
		return err
	}
	if n.nodes, err = kv(BucketNodes, "live nodes and their load"); err != nil {
		return err
	}
	n.parks, err = kv(BucketParks, "parked calls: one per account and slot")
	return err
}

// ID is this node's id.
func (n *Node) ID() string { return n.id }

// TTL is how long an entry outlives its last refresh.
func (n *Node) TTL() time.Duration { return n.ttl }

// Close stops refreshing, releases the node's leases, deletes its
// bindings and its node entry (so other nodes see it leave at once rather
// than after the TTL), and closes the connection. It is idempotent.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	keys := make([]string, 0, len(n.bindings))
	for k := range n.bindings {
		keys = append(keys, k)
	}
	held := make([]*Lease, 0, len(n.held))
	for _, l := range n.held {
		held = append(held, l)
	}
	n.mu.Unlock()
	close(n.stop)
	n.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var errs []error
	for _, k := range keys {
		errs = append(errs, ignoreMissing(n.locs.Delete(ctx, k)))
	}
	for _, l := range held {
		errs = append(errs, l.release(ctx))
	}
	errs = append(errs, n.deleteParks(ctx)...)
	errs = append(errs, ignoreMissing(n.nodes.Delete(ctx, keyToken(n.id))))
	n.closeConn()
	return errors.Join(errs...)
}

func (n *Node) closeConn() {
	n.mu.Lock()
	subs := n.subs
	n.subs = nil
	n.mu.Unlock()
	for _, s := range subs {
		_ = s.Unsubscribe()
	}
	// Drain would wait for in-flight handlers; they are short and the
	// node is leaving, so a plain close.
	n.nc.Close()
}

func ignoreMissing(err error) error {
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	return err
}

// loop is the heartbeat: every period it republishes the node's load,
// refreshes its bindings (dropping expired ones) and its leases.
func (n *Node) loop() {
	defer n.wg.Done()
	t := time.NewTicker(n.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), n.heartbeat)
			if err := n.publishNode(ctx); err != nil {
				n.log.Warn("cluster: heartbeat", "err", err)
			}
			n.refreshBindings(ctx)
			n.refreshLeases(ctx)
			n.lostParks(n.refreshParks(ctx))
			cancel()
		}
	}
}

// nodeIDPattern reports whether s is a usable node id.
func nodeIDPattern(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// keyToken makes s one key token (NATS key characters without "."):
// letters, digits, "-" kept, anything else as "_XX" (hex of each byte).
// It is only ever encoded: values carry the original strings.
func keyToken(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "_%02X", c)
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// hashToken is a fixed-length key token for a long or arbitrary string
// (a SIP contact URI).
func hashToken(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}
