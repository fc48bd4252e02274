package cluster

// Crash stops the node as a killed process would: no more heartbeats, the
// connection dropped, nothing deleted.
func (n *Node) Crash() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	n.mu.Unlock()
	close(n.stop)
	n.wg.Wait()
	n.closeConn()
}
