package sipua

import (
	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/ident"
)

// ContactParties makes callee parties for contacts this UA did not
// register: in a cluster, phones registered via another node that this
// node (the call's owner) rings. A UDP phone is rung directly (at the
// address it registered from). A TCP, TLS or WebSocket phone is reached
// only over the connection it registered on, held by the other node: it
// is rung through that node (c.Route, edge.go), and its dialog's requests
// come from there. Other contacts are skipped.
func (u *UA) ContactParties(cs []Contact, r call.Remote) []call.Party {
	var out []call.Party
	for _, c := range cs {
		flowAddr := c.Source
		switch {
		case c.Route != "":
			hop, err := edgeNextHop(c.Route)
			if err != nil {
				u.log.Debug("sip: ring: bad edge route", "route", c.Route, "err", err)
				continue
			}
			flowAddr = hop
		case connOriented(c.Transport):
			continue
		default:
			c.Transport = "udp"
		}
		out = append(out, &callee{outDialog: outDialog{sipParty: sipParty{ua: u, remote: r,
			key: "sip_" + ident.Short() + ident.Short(), flow: sameHost(flowAddr)}}, contact: c})
	}
	return out
}
