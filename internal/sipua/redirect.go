package sipua

import (
	"errors"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/switchboard-voice/switchboard/internal/call"
)

// SetRedirect, in a cluster, names where an INVITE past this node's
// ceiling goes instead: peer returns the SIP address (host:port) of a
// node with room, "" when none has. Set it before Start.
func (u *UA) SetRedirect(peer func() string) { u.redirect = peer }

// refusePlace answers an INVITE the call layer refused. Past the node's
// ceiling with a peer that has room, it is 302 Moved Temporarily (RFC
// 3261 §21.3.3) with a Contact at that peer, the Request-URI's user kept:
// the caller sends the INVITE there. Otherwise it is placeRefusal's 503.
func (u *UA) refusePlace(r *responder, err error) {
	var le *call.LimitError
	if errors.As(err, &le) && le.Limit == call.LimitNode && u.redirect != nil {
		if c := redirectContact(r.req, u.redirect()); c != "" {
			u.log.Info("sip: INVITE past the node's ceiling redirected", "contact", c, "call_id", r.req.CallID().Value())
			r.respond(302, "Moved Temporarily", nil, sip.NewHeader("Contact", c))
			return
		}
	}
	status, reason, hdrs := placeRefusal(err)
	r.respond(status, reason, nil, hdrs...)
}

// redirectContact is the Contact a 302 names: the Request-URI's user at
// addr, over the transport the INVITE came on. UDP and TCP share the
// node's port; TLS and WebSocket listen elsewhere, so an INVITE over them
// is not redirected ("").
func redirectContact(req *sip.Request, addr string) string {
	if addr == "" {
		return ""
	}
	params := ""
	switch strings.ToLower(req.Transport()) {
	case "udp", "":
	case "tcp":
		params = ";transport=tcp"
	default:
		return ""
	}
	user := req.Recipient.User
	if user != "" {
		user += "@"
	}
	return "<sip:" + user + addr + params + ">"
}
