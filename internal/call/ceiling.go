package call

import "fmt"

// nodeError is the message of a call refused at the node's ceiling.
func (e *LimitError) nodeError() string {
	msg := fmt.Sprintf("this node is at its ceiling of %d calls", e.Max)
	if e.MaxCPU > 0 {
		msg = fmt.Sprintf("this node is at its CPU ceiling (%.0f%% of all cores)", 100*e.MaxCPU)
	}
	if e.Peer != "" {
		// A call.create is forwarded to a peer with room (Overflow) when
		// one takes it; otherwise the caller is told where to go.
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

// fullLocked says why the node takes no new call (nil: it has room): its
// ceiling of calls, or its CPU ceiling. l.mu is held.
func (l *limits) fullLocked() *LimitError {
	if l.node > 0 && l.total >= l.node {
		return &LimitError{Limit: LimitNode, Max: l.node}
	}
	if l.cpu != nil && l.cpu() >= l.maxCPU {
		return &LimitError{Limit: LimitNode, MaxCPU: l.maxCPU}
	}
	return nil
}

// full reports whether the node is at one of its ceilings.
func (l *limits) full() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fullLocked() != nil
}

// Full reports whether the node is at one of its ceilings (calls, CPU):
// a new call would be refused.
func (m *Manager) Full() bool { return m.lim.full() }

// overflow offers a call.create this node has no room for to
// Options.Overflow and reports whether it took it.
func (m *Manager) overflow(dev Device, cr Create) bool {
	if m.opt.Overflow == nil || !m.lim.full() || m.ParkedHere(dev.Account(), cr.Destination) {
		return false
	}
	early := m.reqs.pending(dev.SessionID(), cr.ReqID)
	return m.opt.Overflow(dev, cr, early, func() { m.startCall(dev, cr, nil) })
}
