package sipua

import (
	"errors"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/call"
)

func TestRedirectContact(t *testing.T) {
	for _, tc := range []struct {
		name, user, transport, addr, want string
	}{
		{"udp", "101", "UDP", "127.0.0.1:5070", "<sip:101@127.0.0.1:5070>"},
		{"tcp", "+15551230000", "TCP", "127.0.0.1:5070", "<sip:+15551230000@127.0.0.1:5070;transport=tcp>"},
		{"no user", "", "UDP", "127.0.0.1:5070", "<sip:127.0.0.1:5070>"},
		{"ipv6", "101", "UDP", "[::1]:5070", "<sip:101@[::1]:5070>"},
		{"tls not redirected", "101", "TLS", "127.0.0.1:5070", ""},
		{"ws not redirected", "101", "WS", "127.0.0.1:5070", ""},
		{"no peer", "101", "UDP", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: tc.user, Host: "127.0.0.1", Port: 5060})
			req.SetTransport(tc.transport)
			require.Equal(t, tc.want, redirectContact(req, tc.addr))
		})
	}
}

func TestRedirectOnlyPhonesAtTheCeiling(t *testing.T) {
	u := &UA{redirect: func() string { return "127.0.0.1:5070" }}
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "101", Host: "127.0.0.1", Port: 5060})
	req.SetTransport("UDP")
	full := &call.LimitError{Limit: call.LimitNode, Max: 1}
	require.Equal(t, "<sip:101@127.0.0.1:5070>", u.redirectFor(req, full, true))
	require.Empty(t, u.redirectFor(req, full, false), "a carrier's INVITE gets the 503 it fails over on")
	require.Empty(t, u.redirectFor(req, &call.LimitError{Limit: call.LimitAccount, Max: 5}, true), "another limit")
	require.Empty(t, u.redirectFor(req, errors.New("boom"), true))
	u.redirect = func() string { return "" }
	require.Empty(t, u.redirectFor(req, full, true), "no peer with room")
}
