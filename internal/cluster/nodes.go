package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"sort"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Load is what a node says about itself at each heartbeat.
type Load struct {
	Calls    int `json:"calls"`
	MaxCalls int `json:"max_calls"` // 0: no ceiling
	// MaxCPU is the node's CPU ceiling, a share of all cores (0: none):
	// at or over it (NodeInfo.CPU) the node takes no new calls.
	MaxCPU   float64 `json:"max_cpu,omitempty"`
	Draining bool    `json:"draining"`
	HTTP     string  `json:"http,omitempty"` // the node's HTTP address
	SIP      string  `json:"sip,omitempty"`  // the node's SIP address
	// Room is the peer this node hands new calls to past its ceilings,
	// as of its last look at the others ("" none).
	Room string `json:"room,omitempty"`
}

// NodeInfo is one live node as the others see it.
type NodeInfo struct {
	Node string `json:"node"`
	Load
	// CPU is the process's CPU use over the last heartbeat, as a share of
	// all cores (0..1).
	CPU       float64   `json:"cpu"`
	StartedAt time.Time `json:"started_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ErrNoPeer is returned by LeastLoaded when no live node takes calls.
var ErrNoPeer = errors.New("cluster: no live node takes calls")

// publishNode writes this node's entry in the nodes bucket. Only Connect
// and then the heartbeat call it (the CPU meter is theirs).
func (n *Node) publishNode(ctx context.Context) error {
	share := n.cpu.sample()
	n.mu.Lock()
	n.cpuShare = share
	n.mu.Unlock()
	v, err := json.Marshal(n.Self())
	if err != nil {
		return err
	}
	_, err = n.nodes.Put(ctx, keyToken(n.id), v)
	return err
}

// Self is this node's entry as it publishes it now.
func (n *Node) Self() NodeInfo {
	n.mu.Lock()
	cpu := n.cpuShare
	n.mu.Unlock()
	return NodeInfo{Node: n.id, Load: n.load(), CPU: cpu, StartedAt: n.started, UpdatedAt: time.Now().UTC()}
}

// Peers lists the live nodes, this one included, by id.
func (n *Node) Peers(ctx context.Context) ([]NodeInfo, error) {
	var out []NodeInfo
	stale := time.Now().Add(-n.ttl)
	err := n.scan(ctx, n.nodes, ">", func(v []byte) error {
		var info NodeInfo
		if err := json.Unmarshal(v, &info); err != nil {
			return err
		}
		if info.UpdatedAt.After(stale) { // the bucket's TTL would take it soon
			out = append(out, info)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out, nil
}

// Live reads node's entry directly (not through a watcher, so a
// heartbeat written at the same moment cannot hide it) and says whether
// it is fresh: a node missing from one Peers scan is confirmed gone here
// before anything is done about it.
func (n *Node) Live(ctx context.Context, node string) (bool, error) {
	e, err := n.nodes.Get(ctx, keyToken(node))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var info NodeInfo
	if err := json.Unmarshal(e.Value(), &info); err != nil {
		return false, err
	}
	return info.UpdatedAt.After(time.Now().Add(-n.ttl)), nil
}

// LeastLoaded picks the live node, not draining and under its ceilings
// (calls and CPU), with the lowest share of its call ceiling in use (calls, for nodes
// without a ceiling), then the lowest CPU; ties go to the lowest id.
func (n *Node) LeastLoaded(ctx context.Context) (NodeInfo, error) {
	peers, err := n.Peers(ctx)
	if err != nil {
		return NodeInfo{}, err
	}
	return leastLoaded(peers)
}

func leastLoaded(peers []NodeInfo) (NodeInfo, error) {
	var best *NodeInfo
	for i := range peers {
		p := &peers[i]
		if p.Draining || p.Full() {
			continue
		}
		if best == nil || p.usage() < best.usage() || p.usage() == best.usage() && p.CPU < best.CPU {
			best = p
		}
	}
	if best == nil {
		return NodeInfo{}, ErrNoPeer
	}
	return *best, nil
}

// Full reports whether the node is at one of its ceilings: its calls, or
// the CPU share it last published.
func (p NodeInfo) Full() bool {
	return p.MaxCalls > 0 && p.Calls >= p.MaxCalls || p.MaxCPU > 0 && p.CPU >= p.MaxCPU
}

// CPU is the process's CPU share as last sampled (and published).
func (n *Node) CPU() float64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cpuShare
}

func (p NodeInfo) usage() float64 {
	if p.MaxCalls > 0 {
		return float64(p.Calls) / float64(p.MaxCalls)
	}
	return float64(p.Calls)
}

// cpuMeter measures the process's CPU time between samples.
type cpuMeter struct {
	lastCPU  time.Duration
	lastWall time.Time
}

// sample returns the CPU share since the previous sample (0 the first
// time). Only the heartbeat goroutine and Connect call it, never at once.
func (m *cpuMeter) sample() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	now := time.Now()
	var share float64
	if !m.lastWall.IsZero() {
		if wall := now.Sub(m.lastWall); wall > 0 {
			share = float64(cpu-m.lastCPU) / float64(wall) / float64(runtime.NumCPU())
		}
	}
	m.lastCPU, m.lastWall = cpu, now
	return min(max(share, 0), 1)
}

// PickLeastLoaded is LeastLoaded over nodes already listed (by Peers).
func PickLeastLoaded(nodes []NodeInfo) (NodeInfo, error) { return leastLoaded(nodes) }
