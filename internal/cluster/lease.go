package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrLeaseHeld is returned when another node holds the lease.
var ErrLeaseHeld = errors.New("cluster: lease held by another node")

// Lease is a name this node alone holds (one trunk's registration, say)
// while it refreshes it every heartbeat. If the node dies, the entry
// expires after the TTL and another node may take it.
type Lease struct {
	n    *Node
	name string
	key  string

	mu       sync.Mutex
	rev      uint64    // the entry's revision this node last wrote
	renewed  time.Time // when that write succeeded
	acquired time.Time
	lost     chan struct{}
	released bool
}

type leaseValue struct {
	Node       string    `json:"node"`
	AcquiredAt time.Time `json:"acquired_at"`
}

func leaseKey(name string) string { return keyToken(name) }

// Name is the lease's name.
func (l *Lease) Name() string { return l.name }

// Lost is closed when the node stops holding the lease without Release:
// a refresh found another holder, or NATS was away for longer than the
// TTL (another node may have taken it), or the node closed.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Release gives the lease up at once (rather than after the TTL).
func (l *Lease) Release(ctx context.Context) error {
	l.n.mu.Lock()
	if l.n.held[l.name] == l {
		delete(l.n.held, l.name)
	}
	l.n.mu.Unlock()
	return l.release(ctx)
}

func (l *Lease) release(ctx context.Context) error {
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return nil
	}
	l.released = true
	rev := l.rev
	l.mu.Unlock()
	l.markLost()
	err := l.n.leases.Delete(ctx, l.key, jetstream.LastRevision(rev))
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil // someone else holds it already
	}
	return err
}

func (l *Lease) markLost() {
	select {
	case <-l.lost:
	default:
		close(l.lost)
	}
}

// TryAcquireLease takes the lease if no live node holds it, or returns
// ErrLeaseHeld. A lease this node already holds is returned as is; one
// its earlier run held (same node id, restarted within the TTL) is taken
// over.
func (n *Node) TryAcquireLease(ctx context.Context, name string) (*Lease, error) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, ErrClosed
	}
	if l := n.held[name]; l != nil {
		n.mu.Unlock()
		return l, nil
	}
	n.mu.Unlock()
	key := leaseKey(name)
	now := time.Now()
	v, _ := json.Marshal(leaseValue{Node: n.id, AcquiredAt: now.UTC()})
	rev, err := n.leases.Create(ctx, key, v)
	if errors.Is(err, jetstream.ErrKeyExists) {
		rev, err = n.takeOver(ctx, key, v)
	}
	if err != nil {
		return nil, err
	}
	l := &Lease{n: n, name: name, key: key, rev: rev, renewed: now, acquired: now, lost: make(chan struct{})}
	n.mu.Lock()
	closed := n.closed
	if !closed {
		n.held[name] = l
	}
	n.mu.Unlock()
	if closed {
		_ = l.release(ctx)
		return nil, ErrClosed
	}
	return l, nil
}

// takeOver updates a lease entry this node's id wrote (an earlier run);
// anyone else's is ErrLeaseHeld.
func (n *Node) takeOver(ctx context.Context, key string, v []byte) (uint64, error) {
	e, err := n.leases.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	var cur leaseValue
	if err := json.Unmarshal(e.Value(), &cur); err != nil || cur.Node != n.id {
		return 0, fmt.Errorf("%w (%s)", ErrLeaseHeld, cur.Node)
	}
	return n.leases.Update(ctx, key, v, e.Revision())
}

// AcquireLease waits until this node holds the lease, trying again every
// half heartbeat, or until ctx ends or the node closes.
func (n *Node) AcquireLease(ctx context.Context, name string) (*Lease, error) {
	for {
		l, err := n.TryAcquireLease(ctx, name)
		switch {
		case err == nil:
			return l, nil
		case errors.Is(err, ErrClosed):
			return nil, err
		case !errors.Is(err, ErrLeaseHeld):
			n.log.Debug("cluster: acquire lease", "lease", name, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-n.stop:
			return nil, ErrClosed
		case <-time.After(n.heartbeat / 2):
		}
	}
}

// LeaseHolder is the node holding the lease, "" when none does.
func (n *Node) LeaseHolder(ctx context.Context, name string) (string, error) {
	e, err := n.leases.Get(ctx, leaseKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var v leaseValue
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return "", err
	}
	return v.Node, nil
}

// refreshLeases rewrites every held lease at its revision. A lease whose
// entry changed under it, or that could not be renewed for a TTL, is lost.
func (n *Node) refreshLeases(ctx context.Context) {
	n.mu.Lock()
	held := make([]*Lease, 0, len(n.held))
	for _, l := range n.held {
		held = append(held, l)
	}
	n.mu.Unlock()
	for _, l := range held {
		if err := l.renew(ctx); err != nil {
			n.log.Warn("cluster: lease lost", "lease", l.name, "err", err)
			n.mu.Lock()
			if n.held[l.name] == l {
				delete(n.held, l.name)
			}
			n.mu.Unlock()
			l.markLost()
		}
	}
}

func (l *Lease) renew(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return nil
	}
	v, _ := json.Marshal(leaseValue{Node: l.n.id, AcquiredAt: l.acquired.UTC()})
	rev, err := l.n.leases.Update(ctx, l.key, v, l.rev)
	switch {
	case err == nil:
		l.rev, l.renewed = rev, time.Now()
		return nil
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return fmt.Errorf("%w: the entry changed", ErrLeaseHeld)
	case time.Since(l.renewed) >= l.n.ttl:
		return fmt.Errorf("not renewed for %s: %w", l.n.ttl, err)
	}
	return nil // NATS away for now: the next heartbeat tries again
}
