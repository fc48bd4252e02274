package cluster

import "context"

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

// ExpireParkClaim deletes a slot's entry behind its holder's back, as an
// expiry while the holder could not reach NATS does.
func (n *Node) ExpireParkClaim(ctx context.Context, account string, slot int) error {
	return n.parks.Delete(ctx, parkKey(account, slot))
}
