package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Kind is the sort of device a binding is.
type Kind string

// Device kinds.
const (
	KindWebRTC Kind = "webrtc" // a WebSocket device session
	KindSIP    Kind = "sip"    // a SIP registration (one contact)
)

// Binding is one device of a user on this node.
type Binding struct {
	UserID string `json:"user_id"`
	Kind   Kind   `json:"kind"`
	// Device is the session id (webrtc) or the contact URI (sip).
	Device string `json:"device"`
	// Flow is how the node reaches a SIP phone over TCP, TLS or WebSocket
	// (transport and source address); empty for UDP and WebRTC.
	Flow string `json:"flow,omitempty"`
	// Route is, for a phone on such a flow, the Route URI by which another
	// node reaches it through this one (the SIP edge: node address and
	// flow token); empty for UDP and WebRTC.
	Route string `json:"route,omitempty"`
	// Source is where a SIP phone registered from (host:port): where
	// another node sends it an INVITE over UDP.
	Source string `json:"source,omitempty"`
	// Expires ends the binding even if nobody unbinds it (a SIP
	// registration's expiry); zero: until Unbind.
	Expires time.Time `json:"expires,omitzero"`
}

// Location is a binding and the node that holds it.
type Location struct {
	Node string `json:"node"`
	Binding
	UpdatedAt time.Time `json:"updated_at"`
}

// ErrBadBinding is returned for a binding without user, kind or device.
var ErrBadBinding = errors.New("cluster: binding needs a user, a kind and a device")

// locationKey is "<user>.<node>.<kind>.<device hash>": every binding of a
// user shares the first token, so a lookup watches "<user>.>".
func (n *Node) locationKey(user string, kind Kind, device string) string {
	return keyToken(user) + "." + keyToken(n.id) + "." + keyToken(string(kind)) + "." + hashToken(device)
}

// Bind publishes b and keeps it alive (refreshed every heartbeat) until
// Unbind, until b.Expires, or until the node closes or dies. A binding
// for the same user, kind and device replaces the earlier one. When the
// first write fails the binding is still kept and retried at the next
// heartbeat; the error says so.
func (n *Node) Bind(ctx context.Context, b Binding) error {
	if b.UserID == "" || b.Kind == "" || b.Device == "" {
		return ErrBadBinding
	}
	key := n.locationKey(b.UserID, b.Kind, b.Device)
	n.putMu.Lock()
	defer n.putMu.Unlock()
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	n.bindings[key] = b
	n.mu.Unlock()
	if err := n.putLocation(ctx, key, b); err != nil {
		return fmt.Errorf("cluster: bind (retried at the next heartbeat): %w", err)
	}
	return nil
}

// Unbind forgets a binding of this node and deletes it from the registry.
func (n *Node) Unbind(ctx context.Context, user string, kind Kind, device string) error {
	key := n.locationKey(user, kind, device)
	n.putMu.Lock()
	defer n.putMu.Unlock()
	n.mu.Lock()
	_, had := n.bindings[key]
	delete(n.bindings, key)
	n.mu.Unlock()
	if !had {
		return nil
	}
	return ignoreMissing(n.locs.Delete(ctx, key))
}

func (n *Node) putLocation(ctx context.Context, key string, b Binding) error {
	v, err := json.Marshal(Location{Node: n.id, Binding: b, UpdatedAt: time.Now().UTC()})
	if err != nil {
		return err
	}
	_, err = n.locs.Put(ctx, key, v)
	return err
}

// refreshBindings re-puts every live binding (so the TTL does not take
// it) and deletes the ones past their expiry. Each write holds putMu and
// re-reads the binding, so an Unbind meanwhile is never undone.
func (n *Node) refreshBindings(ctx context.Context) {
	n.mu.Lock()
	keys := make([]string, 0, len(n.bindings))
	for k := range n.bindings {
		keys = append(keys, k)
	}
	n.mu.Unlock()
	for _, k := range keys {
		if err := n.refreshBinding(ctx, k); err != nil {
			n.log.Warn("cluster: refresh binding", "err", err)
			return // NATS is away: the next heartbeat tries again
		}
	}
}

func (n *Node) refreshBinding(ctx context.Context, key string) error {
	n.putMu.Lock()
	defer n.putMu.Unlock()
	n.mu.Lock()
	b, ok := n.bindings[key]
	expired := ok && !b.Expires.IsZero() && !b.Expires.After(time.Now())
	if expired {
		delete(n.bindings, key)
	}
	n.mu.Unlock()
	switch {
	case !ok:
		return nil
	case expired:
		return ignoreMissing(n.locs.Delete(ctx, key))
	}
	return n.putLocation(ctx, key, b)
}

// Lookup lists every node's live bindings of user, by node then kind then
// device.
func (n *Node) Lookup(ctx context.Context, user string) ([]Location, error) {
	var out []Location
	now := time.Now()
	err := n.scan(ctx, n.locs, keyToken(user)+".>", func(v []byte) error {
		var l Location
		if err := json.Unmarshal(v, &l); err != nil {
			return err
		}
		if l.UserID == user && (l.Expires.IsZero() || l.Expires.After(now)) {
			out = append(out, l)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: lookup %s: %w", user, err)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Node != b.Node {
			return a.Node < b.Node
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Device < b.Device
	})
	return out, nil
}

// scan calls fn with the value of every live key of kv matching filter,
// read once from a watcher (which reads the current values and then
// signals the end with a nil entry).
func (n *Node) scan(ctx context.Context, kv jetstream.KeyValue, filter string, fn func([]byte) error) error {
	w, err := kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return err
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok || e == nil {
				return nil
			}
			if err := fn(e.Value()); err != nil {
				n.log.Warn("cluster: unreadable entry", "bucket", e.Bucket(), "key", e.Key(), "err", err)
			}
		}
	}
}
