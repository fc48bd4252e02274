package sipua

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

// Flow tokens (RFC 5626 §5.2 idea): in a cluster, the node a phone
// registered with over TCP, TLS or WebSocket publishes, for each such
// binding, a Route URI naming itself with a token ("flow") that names the
// binding. Another node rings the phone by sending the INVITE to that
// node with this Route (edge.go); the token is how the edge finds the
// connection. A token is "<user id>.<mac>": the user says whose bindings
// to look in, the MAC (HMAC-SHA256 under a key made at start, cut to 12
// bytes) which of them, and that this node made it. A restart forgets the
// registrations and the key together.

// flowParam is the Route URI parameter carrying the token.
const flowParam = "flow"

// flowMACLen is the length of a token's MAC, in bytes.
const flowMACLen = 12

// maxFlowToken bounds a token (a user id is ~21 characters).
const maxFlowToken = 128

// Errors of parseFlowToken.
var (
	errFlowToken = errors.New("sip: malformed flow token")
)

// flowToken names binding c of this node.
func (u *UA) flowToken(c Contact) string {
	return string(c.User) + "." + base64.RawURLEncoding.EncodeToString(u.flowMAC(c))
}

func (u *UA) flowMAC(c Contact) []byte {
	m := hmac.New(sha256.New, u.flowKey[:])
	// The registration's contact and transport: a phone that re-registers
	// over a new connection keeps its token (the edge sends on the newest).
	m.Write([]byte(string(c.User) + "\n" + c.URI + "\n" + strings.ToLower(c.Transport)))
	return m.Sum(nil)[:flowMACLen]
}

// parseFlowToken splits a token into its user and MAC.
func parseFlowToken(s string) (ident.UserID, []byte, error) {
	if len(s) == 0 || len(s) > maxFlowToken {
		return "", nil, errFlowToken
	}
	i := strings.LastIndexByte(s, '.')
	if i <= 0 {
		return "", nil, errFlowToken
	}
	user, mac64 := s[:i], s[i+1:]
	for j := 0; j < len(user); j++ {
		c := user[j]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return "", nil, errFlowToken
		}
	}
	mac, err := base64.RawURLEncoding.DecodeString(mac64)
	if err != nil || len(mac) != flowMACLen {
		return "", nil, errFlowToken
	}
	return ident.UserID(user), mac, nil
}

// flowByToken finds the live connection-oriented binding tok names.
func (u *UA) flowByToken(tok string) (Contact, bool) {
	user, mac, err := parseFlowToken(tok)
	if err != nil {
		return Contact{}, false
	}
	for _, c := range u.Registrar.Contacts(user) {
		if connOriented(c.Transport) && hmac.Equal(mac, u.flowMAC(c)) {
			return c, true
		}
	}
	return Contact{}, false
}

// connOriented reports whether a phone on transport is reached only over
// its own connection (TCP, TLS, WebSocket).
func connOriented(transport string) bool {
	return transport != "" && !strings.EqualFold(transport, "udp")
}

// EdgeRoute is the Route URI (with angle brackets) another node puts on an
// INVITE to reach phone c through this node; "" for a UDP phone, which
// any node reaches directly.
func (u *UA) EdgeRoute(c Contact) string {
	if !connOriented(c.Transport) || u.udp == nil || !specificHost(u.Addr()) {
		return "" // a node listening on every interface names no address to reach it by
	}
	return "<sip:" + u.Addr() + ";lr;" + flowParam + "=" + u.flowToken(c) + ">"
}

// specificHost says whether addr (host:port) names one host, not every
// interface (0.0.0.0, ::).
func specificHost(addr string) bool {
	h, _, err := net.SplitHostPort(addr)
	if err != nil || h == "" {
		return false
	}
	ip := net.ParseIP(h)
	return ip == nil || !ip.IsUnspecified()
}

// edgeNextHop is the address an INVITE routed through edge goes to (the
// Route URI's host and port), or an error for a route that is not one.
func edgeNextHop(route string) (string, error) {
	uri, err := parseRouteURI(route)
	if err != nil {
		return "", err
	}
	if uri.Port <= 0 || uri.Host == "" || !uri.UriParams.Has("lr") {
		return "", errRoute
	}
	return net.JoinHostPort(uri.Host, strconv.Itoa(uri.Port)), nil
}

// errRoute is a Route header value we cannot use.
var errRoute = errors.New("sip: malformed Route")

// maxRoutes bounds the route set we read from a request.
const maxRoutes = 16

// parseRouteSet reads Route header values ("<uri>;params, <uri>" each, in
// order) into their URIs (RFC 3261 §20.34: name-addr only).
func parseRouteSet(values []string) ([]sip.Uri, error) {
	var out []sip.Uri
	for _, v := range values {
		for _, elem := range splitRouteList(v) {
			if len(out) == maxRoutes {
				return nil, errRoute
			}
			uri, err := parseRouteURI(elem)
			if err != nil {
				return nil, err
			}
			out = append(out, uri)
		}
	}
	return out, nil
}

// splitRouteList splits a header value at the commas outside <> and
// quotes.
func splitRouteList(v string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"' && depth == 0:
			quoted = !quoted
		case quoted:
		case c == '<':
			depth++
		case c == '>' && depth > 0:
			depth--
		case c == ',' && depth == 0:
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:])
}

// parseRouteURI reads one route element: [display-name] <uri> [;params].
func parseRouteURI(elem string) (sip.Uri, error) {
	elem = strings.TrimSpace(elem)
	open := strings.IndexByte(elem, '<')
	if open < 0 {
		return sip.Uri{}, errRoute
	}
	end := strings.IndexByte(elem[open:], '>')
	if end < 0 {
		return sip.Uri{}, errRoute
	}
	inner := elem[open+1 : open+end]
	if !strings.HasPrefix(strings.ToLower(inner), "sip:") && !strings.HasPrefix(strings.ToLower(inner), "sips:") {
		return sip.Uri{}, errRoute
	}
	var uri sip.Uri
	if err := sip.ParseUri(inner, &uri); err != nil || uri.Host == "" {
		return sip.Uri{}, errRoute
	}
	return uri, nil
}
