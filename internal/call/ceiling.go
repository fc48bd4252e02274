package call

import "fmt"

// nodeError is the message of a call refused at the node's ceiling.
func (e *LimitError) nodeError() string {
	msg := fmt.Sprintf("this node is at its ceiling of %d calls", e.Max)
	if e.Peer != "" {
		// Forwarding the call there needs cross-node call signalling,
		// which does not exist yet: the caller is told where to go.
		return msg + "; node " + e.Peer + " has room: connect to it and call again"
	}
	return msg + ": try again shortly or on another node"
}

// hintPeer names a peer with room in a refusal at the node's ceiling.
func (m *Manager) hintPeer(e *LimitError) {
	if e.Limit == LimitNode && e.Peer == "" && m.opt.PeerWithRoom != nil {
		e.Peer = m.opt.PeerWithRoom()
	}
}
