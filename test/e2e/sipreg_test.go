package e2e

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/stretchr/testify/require"
)

// registerDigest registers user's contact at the registrar addr through
// client: the first REGISTER must be challenged (401), the answered one
// accepted (200). transport is "UDP", "TCP" or "TLS".
func registerDigest(t *testing.T, client *sipgo.Client, addr, transport, user, password, contact string) {
	t.Helper()
	registerDigestExpires(t, client, addr, transport, user, password, contact, 120)
}

// registerDigestExpires is registerDigest asking for expires seconds (0
// removes the contact).
func registerDigestExpires(t *testing.T, client *sipgo.Client, addr, transport, user, password, contact string, expires int) {
	t.Helper()
	host, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	register := func(auth string) *sip.Response {
		req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: host, Port: port})
		req.SetTransport(transport)
		req.AppendHeader(sip.NewHeader("To", "<sip:"+user+"@"+host+">"))
		req.AppendHeader(sip.NewHeader("From", "<sip:"+user+"@"+host+">;tag=reg1"))
		req.AppendHeader(sip.NewHeader("Contact", contact))
		req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
		if auth != "" {
			req.AppendHeader(sip.NewHeader("Authorization", auth))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		res, err := client.Do(ctx, req)
		require.NoError(t, err)
		return res
	}
	res := register("")
	require.Equal(t, 401, res.StatusCode)
	chal, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
	require.NoError(t, err)
	creds, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:" + addr,
		Username: user, Password: password, Count: 1})
	require.NoError(t, err)
	require.Equal(t, 200, register(creds.String()).StatusCode)
}
