package server

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/switchboard-voice/switchboard/internal/cluster"
	"github.com/switchboard-voice/switchboard/internal/sipua"
)

// Lease name prefixes: one node registers each trunk; one surviving node
// closes a dead node's call records.
const (
	leaseTrunk  = "trunk."
	leaseReaper = "reaper."
)

// trunkLeases is the SIP side's trunk gate in cluster mode: a trunk
// registers on the node holding its lease. A draining node gives its
// trunk leases up (another node registers) and takes no more.
type trunkLeases struct {
	link *clusterLink

	mu       sync.Mutex
	held     map[*cluster.Lease]struct{}
	draining bool
}

func newTrunkLeases(l *clusterLink) *trunkLeases {
	return &trunkLeases{link: l, held: map[*cluster.Lease]struct{}{}}
}

// gate implements sipua.TrunkGate: it waits for the cluster link, then
// for the trunk's lease (trying every half heartbeat).
func (g *trunkLeases) gate(ctx context.Context, key string) (sipua.TrunkLease, error) {
	select {
	case <-g.link.joined:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if g.isDraining() {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	l, err := g.link.node.AcquireLease(ctx, leaseTrunk+key)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	if g.draining {
		g.mu.Unlock()
		_ = l.Release(ctx)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	g.held[l] = struct{}{}
	g.mu.Unlock()
	return heldTrunk{l, g}, nil
}

func (g *trunkLeases) isDraining() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.draining
}

// drain releases every trunk lease at once (the SIP side un-registers
// those trunks; other nodes take them within half a heartbeat) and takes
// no more.
func (g *trunkLeases) drain() {
	g.mu.Lock()
	g.draining = true
	held := g.held
	g.held = map[*cluster.Lease]struct{}{}
	g.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for l := range held {
		if err := l.Release(ctx); err != nil {
			g.link.log.Warn("cluster: release trunk lease", "lease", l.Name(), "err", err)
		}
	}
}

// heldTrunk forgets the lease in the held set when released.
type heldTrunk struct {
	*cluster.Lease
	g *trunkLeases
}

func (h heldTrunk) Release(ctx context.Context) error {
	h.g.mu.Lock()
	delete(h.g.held, h.Lease)
	h.g.mu.Unlock()
	return h.Lease.Release(ctx)
}

// reaper closes the call records a dead node left open: every heartbeat
// it lists the nodes with open records; one that is not live (its entry
// vanished: a TTL after its last heartbeat) on two sweeps in a row has
// its records closed `failed`, at their last checkpoint or media, by the
// one survivor holding the lease reaper.<node>.
type reaper struct {
	link   *clusterLink
	absent map[string]bool // nodes with open records not live at the last sweep
}

func (r *reaper) loop(stop <-chan struct{}) {
	t := time.NewTicker(r.link.s.Config.Cluster.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			r.sweep()
		}
	}
}

func (r *reaper) sweep() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nodes, err := r.link.s.Store.OpenCallRecordNodes(ctx)
	if err != nil {
		r.link.log.Warn("cluster: reaper: open records", "err", err)
		return
	}
	live, err := r.live(ctx)
	if err != nil {
		r.link.log.Warn("cluster: reaper: peers", "err", err)
		return
	}
	absent := map[string]bool{}
	for _, n := range nodes {
		if n == "" || live[n] { // "": a single node's, closed when a node starts
			continue
		}
		absent[n] = true
		if r.absent[n] {
			r.reap(ctx, n)
		}
	}
	r.absent = absent
}

func (r *reaper) live(ctx context.Context) (map[string]bool, error) {
	peers, err := r.link.node.Peers(ctx)
	if err != nil {
		return nil, err
	}
	live := map[string]bool{r.link.node.ID(): true}
	for _, p := range peers {
		live[p.Node] = true
	}
	return live, nil
}

// reap closes dead's open records unless another node is doing it.
func (r *reaper) reap(ctx context.Context, dead string) {
	l, err := r.link.node.TryAcquireLease(ctx, leaseReaper+dead)
	if errors.Is(err, cluster.ErrLeaseHeld) {
		return
	}
	if err != nil {
		r.link.log.Warn("cluster: reaper: lease", "dead_node", dead, "err", err)
		return
	}
	defer func() { _ = l.Release(ctx) }()
	if live, err := r.live(ctx); err != nil || live[dead] { // back meanwhile
		return
	}
	n, err := r.link.s.Store.CloseNodeCallRecords(ctx, dead, "failed", time.Now())
	if err != nil {
		r.link.log.Warn("cluster: reaper: close records", "dead_node", dead, "err", err)
		return
	}
	if n > 0 {
		r.link.log.Warn("cluster: closed the call records of a dead node", "dead_node", dead, "count", n)
	}
}

// closeOwnOpenRecords closes what an earlier run left open: on a single
// node every open record; in a cluster sharing the store only this
// node's (and those of no node, from a single-node run before the
// cluster), never another live node's.
func (s *Server) closeOwnOpenRecords(ctx context.Context) error {
	now := time.Now()
	if !s.Config.Cluster.Enabled() {
		n, err := s.Store.CloseOpenCallRecords(ctx, "failed", now)
		s.logClosed(n)
		return err
	}
	total := 0
	for _, node := range []string{s.Config.Cluster.Node(), ""} {
		n, err := s.Store.CloseNodeCallRecords(ctx, node, "failed", now)
		if err != nil {
			return err
		}
		total += n
	}
	s.logClosed(total)
	return nil
}

func (s *Server) logClosed(n int) {
	if n > 0 {
		s.Log.Warn("closed call records left open by an earlier run", "count", n)
	}
}
