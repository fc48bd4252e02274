package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrParkTaken is returned by ClaimPark for a slot another call holds.
var ErrParkTaken = errors.New("cluster: park slot taken")

// ParkClaim is one parked call in an account's park slot: the cluster
// holds at most one per account and slot. The node that parked the call
// refreshes it every heartbeat; it expires with the node.
type ParkClaim struct {
	Node     string    `json:"node"`
	Account  string    `json:"account"`
	Slot     int       `json:"slot"`
	Call     string    `json:"call"`
	From     string    `json:"from,omitempty"`
	FromName string    `json:"from_name,omitempty"`
	By       string    `json:"by,omitempty"`
	At       time.Time `json:"at"`
}

// ParkEvent is a change of one slot seen by WatchParks: Claim is the
// slot's holder, or (Gone) the one that left it.
type ParkEvent struct {
	Claim ParkClaim
	Gone  bool
}

// parkHold is a claim this node keeps alive.
type parkHold struct {
	claim ParkClaim
	rev   uint64
}

func parkKey(account string, slot int) string { return keyToken(account) + "." + strconv.Itoa(slot) }

// ClaimPark takes c's slot for c's call if no live node holds it
// (create-if-absent), or returns ErrParkTaken. An entry this node's
// earlier run left (same node id, restarted within the TTL) is taken over.
func (n *Node) ClaimPark(ctx context.Context, c ParkClaim) error {
	c.Node = n.id
	if c.At.IsZero() {
		c.At = time.Now().UTC()
	}
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	key := parkKey(c.Account, c.Slot)
	n.parkMu.Lock()
	defer n.parkMu.Unlock()
	n.mu.Lock()
	closed, mine := n.closed, n.parkHeld[key] != nil
	n.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if mine {
		return ErrParkTaken
	}
	rev, err := n.parks.Create(ctx, key, v)
	if errors.Is(err, jetstream.ErrKeyExists) {
		rev, err = n.takeOverPark(ctx, key, v)
	}
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.parkHeld[key] = &parkHold{claim: c, rev: rev}
	n.mu.Unlock()
	return nil
}

// takeOverPark updates an entry this node's id wrote but no longer holds
// (an earlier run); anyone else's is ErrParkTaken.
func (n *Node) takeOverPark(ctx context.Context, key string, v []byte) (uint64, error) {
	e, err := n.parks.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return n.parks.Create(ctx, key, v) // gone meanwhile
	}
	if err != nil {
		return 0, err
	}
	var cur ParkClaim
	if err := json.Unmarshal(e.Value(), &cur); err != nil || cur.Node != n.id {
		return 0, ErrParkTaken
	}
	return n.parks.Update(ctx, key, v, e.Revision())
}

// clearStaleParks deletes the claims an earlier run of this node (same
// id, restarted within the TTL) left: its parked calls ended with it, and
// the other nodes, which saw no departure, forget them on the deletes.
func (n *Node) clearStaleParks(ctx context.Context) error {
	w, err := n.parks.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("cluster: park claims: %w", err)
	}
	defer func() { _ = w.Stop() }()
	stale := map[string]uint64{}
read:
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok || e == nil {
				break read // the current values are read
			}
			var c ParkClaim
			if json.Unmarshal(e.Value(), &c) == nil && c.Node == n.id {
				stale[e.Key()] = e.Revision()
			}
		}
	}
	for key, rev := range stale {
		err := n.parks.Delete(ctx, key, jetstream.LastRevision(rev))
		if err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return fmt.Errorf("cluster: clearing a stale park claim: %w", err)
		}
	}
	return nil
}

// ReleasePark empties the slot if this node holds it for call.
func (n *Node) ReleasePark(ctx context.Context, account string, slot int, call string) error {
	key := parkKey(account, slot)
	n.parkMu.Lock()
	defer n.parkMu.Unlock()
	n.mu.Lock()
	h := n.parkHeld[key]
	if h == nil || h.claim.Call != call {
		n.mu.Unlock()
		return nil
	}
	delete(n.parkHeld, key)
	n.mu.Unlock()
	err := n.deleteClaim(ctx, key, h.rev)
	if err != nil {
		n.parkGone[key] = h.rev // the next refresh tries again
	}
	return err
}

// deleteClaim deletes the entry at rev; one changed since (another node
// holds the slot now) or gone already is not an error.
func (n *Node) deleteClaim(ctx context.Context, key string, rev uint64) error {
	err := n.parks.Delete(ctx, key, jetstream.LastRevision(rev))
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	return err
}

// retryReleases deletes the released claims whose delete failed (under
// parkMu).
func (n *Node) retryReleases(ctx context.Context) {
	for key, rev := range n.parkGone {
		if err := n.deleteClaim(ctx, key, rev); err != nil {
			n.log.Warn("cluster: release park claim", "key", key, "err", err)
			return // NATS is away: the next heartbeat tries again
		}
		delete(n.parkGone, key)
	}
}

// ParkClaims lists every live claim of the cluster.
func (n *Node) ParkClaims(ctx context.Context) ([]ParkClaim, error) {
	var out []ParkClaim
	err := n.scan(ctx, n.parks, ">", func(v []byte) error {
		var c ParkClaim
		if err := json.Unmarshal(v, &c); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: park claims: %w", err)
	}
	return out, nil
}

// OnParkLost has fn called (on the heartbeat goroutine; it must not
// block) with each claim this node held and lost: another node took the
// slot while this one could not reach NATS for longer than the TTL.
func (n *Node) OnParkLost(fn func(ParkClaim)) {
	n.mu.Lock()
	n.parkLost = fn
	n.mu.Unlock()
}

func (n *Node) lostParks(lost []ParkClaim) {
	n.mu.Lock()
	fn := n.parkLost
	n.mu.Unlock()
	for _, c := range lost {
		if fn != nil {
			fn(c)
		}
	}
}

// refreshParks rewrites every held claim at its revision; one whose entry
// another node has taken since (this node was away for longer than the
// TTL) is forgotten and returned.
func (n *Node) refreshParks(ctx context.Context) (lost []ParkClaim) {
	n.parkMu.Lock()
	defer n.parkMu.Unlock()
	n.retryReleases(ctx)
	n.mu.Lock()
	held := make(map[string]*parkHold, len(n.parkHeld))
	for k, h := range n.parkHeld {
		held[k] = h
	}
	n.mu.Unlock()
	for key, h := range held {
		v, _ := json.Marshal(h.claim)
		rev, err := n.parks.Update(ctx, key, v, h.rev)
		switch {
		case err == nil:
			n.mu.Lock()
			h.rev = rev
			n.mu.Unlock()
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch):
			// Expired while NATS was away: the call is still parked here,
			// so claim the slot again unless another node has it now.
			if rev, err = n.parks.Create(ctx, key, v); err == nil {
				n.mu.Lock()
				h.rev = rev
				n.mu.Unlock()
				continue
			}
			n.log.Warn("cluster: park claim lost", "account", h.claim.Account, "slot", h.claim.Slot, "err", err)
			n.mu.Lock()
			delete(n.parkHeld, key)
			n.mu.Unlock()
			lost = append(lost, h.claim)
		default:
			n.log.Warn("cluster: refresh park claim", "err", err)
			return lost // NATS is away: the next heartbeat tries again
		}
	}
	return lost
}

// deleteParks deletes the node's claims (it is leaving).
func (n *Node) deleteParks(ctx context.Context) []error {
	n.parkMu.Lock()
	defer n.parkMu.Unlock()
	n.mu.Lock()
	held := n.parkHeld
	n.parkHeld = map[string]*parkHold{}
	n.mu.Unlock()
	var errs []error
	for key, h := range held {
		err := n.parks.Delete(ctx, key, jetstream.LastRevision(h.rev))
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			errs = append(errs, ignoreMissing(err))
		}
	}
	return errs
}

// WatchParks calls fn with every slot's claim now and with every change
// after, on one goroutine the node owns (stopped by Close): fn must not
// block for long. A claim that expires (its node died) is not reported:
// the server drops a departed node's claims (Peers) itself.
func (n *Node) WatchParks(fn func(ParkEvent)) error {
	ctx, cancel := context.WithCancel(context.Background())
	w, err := n.parks.WatchAll(ctx)
	if err != nil {
		cancel()
		return fmt.Errorf("cluster: watch parks: %w", err)
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		_ = w.Stop()
		cancel()
		return ErrClosed
	}
	n.wg.Add(1)
	n.mu.Unlock()
	go func() {
		defer n.wg.Done()
		defer cancel()
		defer func() { _ = w.Stop() }()
		seen := map[string]ParkClaim{}
		for {
			select {
			case <-n.stop:
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil {
					continue // the end of the current values
				}
				n.parkEvent(e, seen, fn)
			}
		}
	}()
	return nil
}

func (n *Node) parkEvent(e jetstream.KeyValueEntry, seen map[string]ParkClaim, fn func(ParkEvent)) {
	if e.Operation() != jetstream.KeyValuePut {
		if c, ok := seen[e.Key()]; ok {
			delete(seen, e.Key())
			fn(ParkEvent{Claim: c, Gone: true})
		}
		return
	}
	var c ParkClaim
	if err := json.Unmarshal(e.Value(), &c); err != nil {
		n.log.Warn("cluster: unreadable park claim", "key", e.Key(), "err", err)
		return
	}
	if old, ok := seen[e.Key()]; ok && (old.Call != c.Call || old.Node != c.Node) {
		fn(ParkEvent{Claim: old, Gone: true}) // replaced (the old holder expired)
	}
	seen[e.Key()] = c
	fn(ParkEvent{Claim: c})
}
