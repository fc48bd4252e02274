package sipua

import (
	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/ident"
)

// ContactParties makes callee parties for contacts this UA did not
// register: in a cluster, phones registered via another node that this
// node (the call's owner) rings directly. Only UDP contacts can be
// reached that way (a TCP, TLS or WebSocket phone is reached only over
// the connection it registered on, held by the other node); others are
// skipped.
func (u *UA) ContactParties(cs []Contact, r call.Remote) []call.Party {
	var out []call.Party
	for _, c := range cs {
		if c.Transport != "" && c.Transport != "udp" {
			continue
		}
		c.Transport = "udp"
		out = append(out, &callee{outDialog: outDialog{sipParty: sipParty{ua: u, remote: r,
			key: "sip_" + ident.Short() + ident.Short(), flow: sameHost(c.Source)}}, contact: c})
	}
	return out
}
