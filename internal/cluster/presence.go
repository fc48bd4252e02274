package cluster

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// subjectHello is where a node that starts listening to presence says so,
// so the others send it what they hold.
const subjectHello = "sb.cluster.hello"

// PresenceMessage is one node's news about one user's presence. Data is
// the server's own encoding (this package does not read it).
type PresenceMessage struct {
	Node    string          `json:"node"`
	Account string          `json:"account"`
	User    string          `json:"user"`
	Data    json.RawMessage `json:"data"`
}

// PublishPresence sends news about user on sb.presence.<account>.
func (n *Node) PublishPresence(account, user string, data any) error {
	d, err := json.Marshal(data)
	if err != nil {
		return err
	}
	b, err := json.Marshal(PresenceMessage{Node: n.id, Account: account, User: user, Data: d})
	if err != nil {
		return err
	}
	return n.nc.Publish(subjectPresence+keyToken(account), b)
}

// SubscribePresence calls fn with every other node's presence news and
// hello with the id of every node that starts listening after this one
// (it wants to hear what this node holds: send it again). Both run on
// the subscriptions' goroutines and must not block for long. It then
// says hello itself.
func (n *Node) SubscribePresence(fn func(PresenceMessage), hello func(node string)) error {
	sub, err := n.nc.Subscribe(subjectPresence+">", func(m *nats.Msg) {
		var pm PresenceMessage
		if err := json.Unmarshal(m.Data, &pm); err != nil {
			n.log.Warn("cluster: unreadable presence message", "subject", m.Subject, "err", err)
			return
		}
		if pm.Node != n.id {
			fn(pm)
		}
	})
	if err != nil {
		return fmt.Errorf("cluster: subscribe presence: %w", err)
	}
	hsub, err := n.nc.Subscribe(subjectHello, func(m *nats.Msg) {
		if node := string(m.Data); node != n.id {
			hello(node)
		}
	})
	if err != nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("cluster: subscribe hello: %w", err)
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		_ = sub.Unsubscribe()
		_ = hsub.Unsubscribe()
		return ErrClosed
	}
	n.subs = append(n.subs, sub, hsub)
	n.mu.Unlock()
	// The server must have the subscriptions before anyone answers the
	// hello by sending again.
	if err := n.nc.FlushTimeout(5 * time.Second); err != nil {
		return fmt.Errorf("cluster: subscribe presence: %w", err)
	}
	return n.nc.Publish(subjectHello, []byte(n.id))
}
