package server

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-voice/switchboard/internal/cluster"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/sipua"
)

// The SIP edge (docs/adr/0010-sip-edge-proxy.md): a phone registered here
// over TCP, TLS or WebSocket is published with a Route through this node
// (cluster.Binding.Route); the call's owner rings it through that Route,
// and this node's SIP side proxies between the owner and the phone's
// connection. sipEdge tells the SIP side which addresses are peers: only
// they may send requests through it.

// peerRefresh bounds how often an unknown address makes sipEdge re-read
// the peers (a node that joined since the last heartbeat).
const peerRefresh = time.Second

// sipEdge holds the live peers' SIP addresses.
type sipEdge struct {
	l *clusterLink

	mu    sync.Mutex
	addrs map[string]bool
	read  time.Time // when addrs was last read
}

func newSIPEdge(l *clusterLink) *sipEdge { return &sipEdge{l: l, addrs: map[string]bool{}} }

// setPeers takes the other live nodes (each heartbeat's peer check).
func (e *sipEdge) setPeers(others []cluster.NodeInfo) {
	addrs := make(map[string]bool, len(others))
	for _, p := range others {
		if p.SIP != "" {
			addrs[p.SIP] = true
		}
	}
	e.mu.Lock()
	e.addrs, e.read = addrs, time.Now()
	e.mu.Unlock()
}

// isPeer reports whether addr (host:port) is a live peer's SIP address.
// An address it does not know makes it read the peers again, at most once
// per peerRefresh, so a request from a node that has just joined is not
// refused and a flood of strangers costs at most one read a second.
func (e *sipEdge) isPeer(addr string) bool {
	e.mu.Lock()
	known := e.addrs[addr]
	reread := !known && time.Since(e.read) >= peerRefresh
	if reread {
		e.read = time.Now()
	}
	e.mu.Unlock()
	if !reread {
		return known
	}
	select {
	case <-e.l.joined:
	default:
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	peers, err := e.l.node.Peers(ctx)
	if err != nil {
		e.l.log.Warn("cluster: sip edge: peers", "err", err)
		return false
	}
	others := peers[:0]
	for _, p := range peers {
		if p.Node != e.l.node.ID() {
			others = append(others, p)
		}
	}
	e.setPeers(others)
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.addrs[addr]
}

// edgeContact is the contact by which this node rings a phone on another
// node's TCP, TLS or WebSocket connection: through that node's Route.
func edgeContact(user ident.UserID, l cluster.Location) (sipua.Contact, bool) {
	transport, _, _ := strings.Cut(l.Flow, " ")
	if l.Route == "" || transport == "" {
		return sipua.Contact{}, false // a node from before the edge
	}
	return sipua.Contact{User: user, URI: l.Device, Transport: transport, Route: l.Route, Expires: l.Expires}, true
}
