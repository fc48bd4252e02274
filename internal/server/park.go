package server

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/cluster"
	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/park"
	"github.com/switchboard-voice/switchboard/internal/presence"
)

// newParkLot makes the park slots the configuration asks for; nil when
// call park is off.
func newParkLot(c config.Park) *park.Lot {
	first, last, ok := c.Range()
	if !ok {
		return nil
	}
	return park.New(first, last)
}

// parkPresence answers presence watches of park slots ("park.701") from
// the slots, and every other watch from the presence service.
type parkPresence struct {
	clusterAwarePresence
	lot *park.Lot
}

func (p parkPresence) Watch(account ident.AccountID, user ident.UserID, fn func(presence.State)) (presence.State, func(), error) {
	if _, ok := p.lot.SlotOfID(user); ok {
		return p.lot.Watch(account, user, fn)
	}
	return p.clusterAwarePresence.Watch(account, user, fn)
}

// clusterParks makes the park slots the cluster's (cluster mode): claims
// are entries of the cluster's park bucket, other nodes' claims are
// mirrored into the lot, a pickup of a slot parked elsewhere is handed to
// its node (a browser's call.create, as placement.go hands one to a node
// with room; a phone's INVITE is redirected there with 302), and a node
// that leaves takes its slots with it.
type clusterParks struct {
	link *clusterLink
	lot  *park.Lot
	sip  atomic.Pointer[map[string]string] // live peers' SIP addresses
}

// parkTimeout bounds one round trip to the park bucket.
const parkTimeout = 2 * time.Second

var errNotJoined = errors.New("cluster: not joined yet")

// setupParks shares lot across the cluster; nil when park is off.
func (l *clusterLink) setupParks(lot *park.Lot) *clusterParks {
	if lot == nil {
		return nil
	}
	p := &clusterParks{link: l, lot: lot}
	lot.SetShared(l.s.Config.Cluster.Node(), p)
	l.parks = p
	return p
}

func (p *clusterParks) node() *cluster.Node {
	select {
	case <-p.link.joined:
		return p.link.node
	default:
		return nil
	}
}

// Claim implements park.Shared.
func (p *clusterParks) Claim(account ident.AccountID, slot int, v park.Parked) error {
	node := p.node()
	if node == nil {
		return errNotJoined
	}
	ctx, cancel := context.WithTimeout(context.Background(), parkTimeout)
	defer cancel()
	err := node.ClaimPark(ctx, cluster.ParkClaim{Account: string(account), Slot: slot, Call: string(v.Call),
		From: v.From, FromName: v.FromName, By: string(v.By)})
	if errors.Is(err, cluster.ErrParkTaken) {
		return park.ErrTaken
	}
	return err
}

// Release implements park.Shared.
func (p *clusterParks) Release(account ident.AccountID, slot int, call ident.CallID) {
	node := p.node()
	if node == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), parkTimeout)
	defer cancel()
	if err := node.ReleasePark(ctx, string(account), slot, string(call)); err != nil {
		// Retried at the next heartbeats; other nodes forget the entry
		// once it is not refreshed (Lot.Expire) in any case.
		p.link.log.Warn("cluster: release park slot", "slot", slot, "call_id", call, "err", err)
	}
}

// start mirrors the cluster's claims into the lot, and rings the parker
// back for a parked call whose claim another node took.
func (p *clusterParks) start(node *cluster.Node) error {
	node.OnParkLost(func(c cluster.ParkClaim) { p.link.s.Calls.ParkLost(ident.CallID(c.Call), c.Slot) })
	return node.WatchParks(func(e cluster.ParkEvent) {
		c := e.Claim
		p.lot.Remote(c.Node, ident.AccountID(c.Account), c.Slot, park.Parked{Call: ident.CallID(c.Call), From: c.From,
			FromName: c.FromName, By: ident.UserID(c.By)}, e.Gone)
	})
}

// peers keeps the live peers' SIP addresses and forgets the claims not
// refreshed for ttl (each heartbeat).
func (p *clusterParks) peers(others []cluster.NodeInfo, ttl time.Duration) {
	if p == nil {
		return
	}
	p.lot.Expire(ttl)
	m := make(map[string]string, len(others))
	for _, o := range others {
		m[o.Node] = o.SIP
	}
	p.sip.Store(&m)
}

// sipAddr is a live peer's SIP address, "" when unknown or not one a
// phone can reach (a node listening on every interface).
func (p *clusterParks) sipAddr(node string) string {
	m := p.sip.Load()
	if m == nil {
		return ""
	}
	addr := (*m)[node]
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return ""
	}
	return addr
}

// pickupElsewhere (call.Options.ParkElsewhere) hands a local session's
// call.create to the slot's node.
func (p *clusterParks) pickupElsewhere(dev call.Device, cr call.Create, early []call.Candidate, node string, here func()) bool {
	return p.link.calls.handOver(dev, cr, early, node, "cluster: pickup handed to the node holding the park slot", here)
}

// nodeLeft forgets the slots of a node that left.
func (p *clusterParks) nodeLeft(node string) {
	if p != nil {
		p.lot.DropNode(node)
	}
}
