package server

import (
	"context"
	"time"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/callwire"
	"github.com/switchboard-voice/switchboard/internal/ident"
)

// When a node leaves the cluster (its heartbeat entry expired: it died or
// lost NATS), the relay settles the calls it took part in:
//   - on an owner, devices on that node leave the owner's calls (as a
//     session that ended does);
//   - on a device's node, calls that node owned end for the local
//     sessions with reason failed (their media was anchored there).

// remoteLeg is one remote device in one call, on the owner.
type remoteLeg struct {
	sess ident.SessionID
	call ident.CallID
}

// noteLeg (owner) keeps track of the remote devices a party message
// concerns: one that joins a call (trying, incoming, restored) until it
// hears the call ended.
func (r *callRelay) noteLeg(d remoteDevice, m partyMsg) {
	if m.CallID == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k := remoteLeg{sess: d.sess, call: m.CallID}
	switch m.Method {
	case pmTrying, pmIncoming, pmRestored:
		legs := r.legs[d.node]
		if legs == nil {
			legs = map[remoteLeg]remoteDevice{}
			r.legs[d.node] = legs
		}
		legs[k] = d
	case pmEnded:
		delete(r.legs[d.node], k)
		if len(r.legs[d.node]) == 0 {
			delete(r.legs, d.node)
		}
	}
}

// joins reports whether a party message puts the session in the call
// (device side: the call is tracked until it ends).
func joins(method string) bool {
	return method == pmTrying || method == pmIncoming || method == pmRestored
}

// nodeLeft settles the calls node took part in, unless the node still
// answers (a late heartbeat on a loaded machine is no death).
func (r *callRelay) nodeLeft(node string) {
	if n := r.node(); n != nil {
		if node == n.ID() {
			return // this node's own heartbeat was late
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := n.Status(ctx, node)
		cancel()
		if err == nil {
			r.log.Info("cluster: node missed its heartbeat but answers: its calls go on", "node", node)
			return
		}
	}
	r.mu.Lock()
	devs := map[ident.SessionID]remoteDevice{}
	for _, d := range r.legs[node] {
		devs[d.sess] = d
	}
	delete(r.legs, node)
	type lost struct {
		sess ident.SessionID
		call ident.CallID
	}
	var ended []lost
	for sess, calls := range r.remote {
		for id, owner := range calls {
			if owner == node {
				ended = append(ended, lost{sess, id})
				delete(calls, id)
			}
		}
		if len(calls) == 0 {
			delete(r.remote, sess)
		}
	}
	r.mu.Unlock()
	for _, d := range devs {
		r.log.Info("cluster: node left: its device leaves this node's calls", "node", node, "session", d.sess)
		r.s.Calls.DeviceGone(d)
	}
	for _, l := range ended {
		if s := r.s.Hub.Session(l.sess); s != nil {
			r.log.Info("cluster: node left: its call ends here", "node", node, "call_id", l.call)
			callwire.Device{S: s}.Party(l.call).Ended(call.EndFailed, nil)
		}
	}
}
