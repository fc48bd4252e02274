package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-voice/switchboard/internal/cluster"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/presence"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// clusterLink is the server's part in a cluster (cluster.nats_url set): it
// keeps the location registry in step with the node's device sessions and
// SIP registrations, publishes the node's share of each user's presence
// and takes the other nodes' shares into the local presence hub.
//
// Device and registration changes only mark the user dirty (never
// blocking the WebSocket or SIP handler that reports them); one worker
// goroutine then reconciles each dirty user with the registry and the
// presence bus. The worker also drops the shares of nodes that left.
type clusterLink struct {
	s    *Server
	hub  *presence.Hub
	log  *slog.Logger
	node *cluster.Node // set by start, before the worker runs
	// joined is closed once node is set (the trunk gate waits for it).
	joined chan struct{}
	trunks *trunkLeases // the SIP side's trunk gate (clusterlease.go)
	calls  *callRelay   // calls across nodes (callrelay.go)
	edge   *sipEdge     // which peers the SIP edge proxies for (sipedge.go)
	// room is a peer with room for calls (nil none), refreshed each
	// heartbeat, for calls past this node's ceiling (placement.go).
	room atomic.Pointer[cluster.NodeInfo]

	mu    sync.Mutex
	dirty map[ident.UserID]struct{}
	wake  chan struct{} // capacity 1

	// Worker only: what is bound per user, and the nodes seen alive.
	bound map[ident.UserID]map[string]cluster.Binding
	peers map[string]bool

	stop   chan struct{}
	done   chan struct{}
	reaped chan struct{} // the reaper's goroutine ended

	// parks are the park slots shared by the cluster (park.go); nil:
	// call park is off.
	parks *clusterParks
}

// presenceNews is what a node publishes about a user on the presence bus:
// its share of the user's presence, or the user's record after an update
// (do not disturb, status text), for nodes whose store lags.
type presenceNews struct {
	Share *presence.Share `json:"share,omitempty"`
	Info  *presenceInfo   `json:"info,omitempty"`
}

type presenceInfo struct {
	Name         string `json:"name"`
	Extension    string `json:"extension"`
	DoNotDisturb bool   `json:"do_not_disturb"`
	StatusText   string `json:"status_text"`
}

func newClusterLink(s *Server) *clusterLink {
	l := &clusterLink{s: s, hub: s.Presence, log: s.Log.With("component", "cluster"),
		joined: make(chan struct{}), dirty: map[ident.UserID]struct{}{}, wake: make(chan struct{}, 1),
		bound: map[ident.UserID]map[string]cluster.Binding{}, peers: map[string]bool{},
		stop: make(chan struct{}), done: make(chan struct{}), reaped: make(chan struct{})}
	l.trunks = newTrunkLeases(l)
	l.calls = newCallRelay(l)
	l.edge = newSIPEdge(l)
	return l
}

// presenceSink is the presence service the hub, SIP, calls and the API
// report to: the local hub, or the hub with the cluster told too.
func (s *Server) presenceSink() clusterAwarePresence {
	if s.cluster == nil {
		return s.Presence
	}
	return clusterPresence{Hub: s.Presence, link: s.cluster}
}

// clusterAwarePresence is what every reporter and reader of presence
// needs (signal.Presence, sipua.Presence, api.Presence and call activity).
type clusterAwarePresence interface {
	presence.Source
	Get(user ident.UserID) (presence.State, error)
	DeviceUp(user ident.UserID, device string)
	DeviceDown(user ident.UserID, device string)
	Registered(user ident.UserID, until time.Time)
	CallChanged(user ident.UserID, d presence.Dialog)
	UserChanged(u *store.User)
}

// clusterPresence tells the local hub first, then the cluster.
type clusterPresence struct {
	*presence.Hub
	link *clusterLink
}

func (p clusterPresence) DeviceUp(user ident.UserID, device string) {
	p.Hub.DeviceUp(user, device)
	p.link.touch(user)
}

func (p clusterPresence) DeviceDown(user ident.UserID, device string) {
	p.Hub.DeviceDown(user, device)
	p.link.touch(user)
}

func (p clusterPresence) Registered(user ident.UserID, until time.Time) {
	p.Hub.Registered(user, until)
	p.link.touch(user)
}

func (p clusterPresence) CallChanged(user ident.UserID, d presence.Dialog) {
	p.Hub.CallChanged(user, d)
	p.link.touch(user)
}

func (p clusterPresence) UserChanged(u *store.User) {
	p.Hub.UserChanged(u)
	p.link.publishInfo(u)
}

// start joins the cluster and starts the worker.
func (l *clusterLink) start(ctx context.Context) error {
	c := l.s.Config.Cluster
	node, err := cluster.Connect(ctx, cluster.Options{URL: c.NATSURL, NodeID: c.Node(), Heartbeat: c.Heartbeat,
		Load: l.load, Log: l.log})
	if err != nil {
		return err
	}
	if err := node.SubscribePresence(l.onPresence, l.onHello); err != nil {
		_ = node.Close()
		return err
	}
	if err := l.calls.start(node); err != nil {
		l.calls.close()
		_ = node.Close()
		return err
	}
	if l.parks != nil {
		if err := l.parks.start(node); err != nil {
			l.calls.close()
			_ = node.Close()
			return err
		}
	}
	l.node = node
	close(l.joined)
	go l.loop()
	go func() {
		defer close(l.reaped)
		(&reaper{link: l}).loop(l.stop)
	}()
	return nil
}

// load is what the node publishes about itself each heartbeat.
func (l *clusterLink) load() cluster.Load {
	s := l.s
	return cluster.Load{Calls: s.Calls.Count(), MaxCalls: s.Config.Cluster.MaxCalls, MaxCPU: s.Config.Cluster.MaxCPU,
		Draining: s.draining.Load(), HTTP: s.Addr(), SIP: s.SIP.Addr(), Room: l.peerWithRoom()}
}

// peerWithRoom is a live peer that takes calls and is under its ceiling,
// as of the last heartbeat ("" none); it never blocks.
func (l *clusterLink) peerWithRoom() string {
	if p := l.room.Load(); p != nil {
		return p.Node
	}
	return ""
}

// close syncs what is pending, stops the worker and leaves the cluster
// (its bindings and node entry are deleted at once).
func (l *clusterLink) close() error {
	if l.node == nil {
		return nil
	}
	select {
	case <-l.stop:
		return nil
	default:
	}
	close(l.stop)
	<-l.done
	<-l.reaped
	l.calls.close()
	return l.node.Close()
}

// touch marks user's presence and bindings to be reconciled.
func (l *clusterLink) touch(user ident.UserID) {
	l.mu.Lock()
	l.dirty[user] = struct{}{}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *clusterLink) loop() {
	defer close(l.done)
	t := time.NewTicker(l.s.Config.Cluster.Heartbeat)
	defer t.Stop()
	l.checkPeers()
	l.syncDirty()
	for {
		select {
		case <-l.stop:
			l.syncDirty()
			return
		case <-l.wake:
			l.syncDirty()
		case <-t.C:
			l.checkPeers()
		}
	}
}

func (l *clusterLink) syncDirty() {
	l.mu.Lock()
	users := l.dirty
	l.dirty = map[ident.UserID]struct{}{}
	l.mu.Unlock()
	for u := range users {
		l.sync(u)
	}
}

// sync reconciles one user: binds the node's device sessions and SIP
// contacts of user, unbinds the ones gone, and publishes its share.
func (l *clusterLink) sync(user ident.UserID) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	local := l.hub.LocalShare(user)
	want := map[string]cluster.Binding{}
	for _, d := range local.Devices {
		b := cluster.Binding{UserID: string(user), Kind: cluster.KindWebRTC, Device: d}
		want[string(b.Kind)+" "+b.Device] = b
	}
	for _, c := range l.s.SIP.Registrar.Contacts(user) {
		b := cluster.Binding{UserID: string(user), Kind: cluster.KindSIP, Device: c.URI, Expires: c.Expires, Source: c.Source}
		if c.Transport != "" && c.Transport != "udp" {
			b.Flow = c.Transport + " " + c.Source // connection-oriented: reached back over the same flow
			b.Route = l.s.SIP.EdgeRoute(c)        // through this node (sipedge.go)
		}
		want[string(b.Kind)+" "+b.Device] = b
	}
	have := l.bound[user]
	for k, b := range have {
		if _, ok := want[k]; !ok {
			if err := l.node.Unbind(ctx, b.UserID, b.Kind, b.Device); err != nil {
				l.log.Warn("cluster: unbind", "user", user, "err", err)
			}
		}
	}
	for k, b := range want {
		if have[k] != b {
			if err := l.node.Bind(ctx, b); err != nil {
				l.log.Warn("cluster: bind", "user", user, "err", err)
			}
		}
	}
	if len(want) == 0 {
		delete(l.bound, user)
	} else {
		l.bound[user] = maps.Clone(want)
	}
	l.publishShare(ctx, user, local)
}

func (l *clusterLink) publishShare(ctx context.Context, user ident.UserID, local presence.Local) {
	account := local.Account
	if account == "" {
		u, err := l.s.Store.GetUser(ctx, user)
		if err != nil {
			l.log.Warn("cluster: presence: user", "user", user, "err", err)
			return
		}
		account = u.AccountID
	}
	if err := l.node.PublishPresence(string(account), string(user), presenceNews{Share: &local.Share}); err != nil {
		l.log.Warn("cluster: publish presence", "user", user, "err", err)
	}
}

// publishInfo tells the other nodes of a user's updated record.
func (l *clusterLink) publishInfo(u *store.User) {
	if l.node == nil {
		return
	}
	info := presenceInfo{Name: u.Name, Extension: u.Extension, DoNotDisturb: u.DoNotDisturb, StatusText: u.StatusText}
	if err := l.node.PublishPresence(string(u.AccountID), string(u.ID), presenceNews{Info: &info}); err != nil {
		l.log.Warn("cluster: publish presence", "user", u.ID, "err", err)
	}
}

// onPresence takes another node's news into the local hub (on the
// subscription's goroutine; the hub never blocks).
func (l *clusterLink) onPresence(m cluster.PresenceMessage) {
	var news presenceNews
	if err := json.Unmarshal(m.Data, &news); err != nil {
		l.log.Warn("cluster: unreadable presence news", "node", m.Node, "err", err)
		return
	}
	user := ident.UserID(m.User)
	if news.Share != nil {
		l.hub.SetRemote(m.Node, user, *news.Share)
	}
	if i := news.Info; i != nil {
		l.hub.RemoteUserChanged(&store.User{ID: user, AccountID: ident.AccountID(m.Account), Name: i.Name,
			Extension: i.Extension, DoNotDisturb: i.DoNotDisturb, StatusText: i.StatusText})
	}
}

// onHello: a node joined; it wants this node's shares again.
func (l *clusterLink) onHello(string) {
	for _, u := range l.hub.LocalUsers() {
		l.touch(u)
	}
}

// checkPeers forgets the presence shares of nodes that are gone.
func (l *clusterLink) checkPeers() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	peers, err := l.node.Peers(ctx)
	if err != nil {
		l.log.Warn("cluster: peers", "err", err)
		return
	}
	alive := map[string]bool{}
	others := make([]cluster.NodeInfo, 0, len(peers))
	for _, p := range peers {
		alive[p.Node] = true
		if p.Node != l.node.ID() {
			others = append(others, p)
		}
	}
	var room *cluster.NodeInfo
	if best, err := cluster.PickLeastLoaded(others); err == nil {
		room = &best
	}
	l.room.Store(room)
	l.edge.setPeers(others)
	l.parks.peers(others, l.node.TTL())
	alive[l.node.ID()] = true // this node's own heartbeat may be late
	var gone []string
	for n := range l.peers {
		switch {
		case alive[n]:
		case l.confirmGone(n):
			gone = append(gone, n)
		default:
			alive[n] = true
		}
	}
	// The live node with the lowest id reports what a departure changed.
	reporter := l.node.ID()
	for n := range alive {
		reporter = min(reporter, n)
	}
	for _, n := range gone {
		l.log.Info("cluster: node left", "peer", n)
		l.hub.DropNode(n, reporter == l.node.ID())
		l.calls.nodeLeft(n)
		l.parks.nodeLeft(n)
	}
	l.peers = alive
}

// confirmGone reads the entry of a node missing from a scan directly: a
// node whose fresh entry is there (or that cannot be read now) has not
// left, and is looked at again at the next check.
func (l *clusterLink) confirmGone(node string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	live, err := l.node.Live(ctx, node)
	if err != nil {
		l.log.Warn("cluster: reading a missing node's entry", "peer", node, "err", err)
		return false
	}
	if live {
		l.log.Info("cluster: a peer scan missed a live node", "peer", node)
	}
	return !live
}

// clusterNodeJSON is one node in GET /v1/cluster/nodes.
type clusterNodeJSON struct {
	Object string `json:"object"`
	cluster.NodeInfo
	Self      bool     `json:"self"`
	Reachable bool     `json:"reachable"`        // answered a status request just now
	RTTMillis *float64 `json:"rtt_ms,omitempty"` // that request's round trip
	Error     string   `json:"error,omitempty"`  // why it did not answer
}

// clusterNodes lists the live nodes, each asked for its status.
func (l *clusterLink) clusterNodes(ctx context.Context) ([]clusterNodeJSON, error) {
	peers, err := l.node.Peers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]clusterNodeJSON, len(peers))
	var wg sync.WaitGroup
	for i, p := range peers {
		out[i] = clusterNodeJSON{Object: "cluster_node", NodeInfo: p, Self: p.Node == l.node.ID()}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			start := time.Now()
			st, err := l.node.Status(rctx, p.Node)
			if err != nil {
				out[i].Error = err.Error()
				return
			}
			rtt := float64(time.Since(start).Microseconds()) / 1000
			out[i].NodeInfo, out[i].Reachable, out[i].RTTMillis = st, true, &rtt
		}()
	}
	wg.Wait()
	return out, nil
}

// locationJSON is one device in GET /v1/cluster/locations/{user_id}.
type locationJSON struct {
	Object string `json:"object"`
	cluster.Location
}

func (l *clusterLink) locations(ctx context.Context, user string) ([]locationJSON, error) {
	locs, err := l.node.Lookup(ctx, user)
	if err != nil {
		return nil, err
	}
	out := make([]locationJSON, len(locs))
	for i, loc := range locs {
		out[i] = locationJSON{Object: "location", Location: loc}
	}
	return out, nil
}

func (s *Server) startCluster(ctx context.Context) error {
	if s.cluster == nil {
		return nil
	}
	if err := s.cluster.start(ctx); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}
