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
// ceiling with a peer that has room, a phone's INVITE (redirect) gets 302
// Moved Temporarily (RFC 3261 §21.3.3) with a Contact at that peer, the
// Request-URI's user kept: the phone sends the INVITE there. Otherwise,
// and always for a carrier's INVITE, it is placeRefusal's 503: carriers
// fail over to their next route on a 503, and many treat a 3xx as final.
func (u *UA) refusePlace(r *responder, err error, phone bool) {
	if c := u.redirectFor(r.req, err, phone); c != "" {
		u.log.Info("sip: INVITE past the node's ceiling redirected", "contact", c, "call_id", r.req.CallID().Value())
		r.respond(302, "Moved Temporarily", nil, sip.NewHeader("Contact", c))
		return
	}
	status, reason, hdrs := placeRefusal(err)
	r.respond(status, reason, nil, hdrs...)
}

// redirectFor is the Contact of the 302 that answers req, refused with
// err, or "" when it gets no redirect: only a phone's INVITE refused at
// the node's ceiling, with a peer that has room, is redirected.
func (u *UA) redirectFor(req *sip.Request, err error, phone bool) string {
	var le *call.LimitError
	if !phone || u.redirect == nil || !errors.As(err, &le) || le.Limit != call.LimitNode {
		return ""
	}
	return redirectContact(req, u.redirect())
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
