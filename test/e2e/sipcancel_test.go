package e2e

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// TestCancelCarriesReason rings a minimal SIP phone (sipgo) beside a
// browser; the browser answers and the phone's CANCEL must say why.
func TestCancelCarriesReason(t *testing.T) {
	s := harness.Start(t, nil)
	ua, err := sipgo.NewUA()
	require.NoError(t, err)
	srv, err := sipgo.NewServer(ua)
	require.NoError(t, err)
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	port := conn.LocalAddr().(*net.UDPAddr).Port
	var mu sync.Mutex
	var reason string
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 180, "Ringing", nil))
		tx.OnCancel(func(c *sip.Request) {
			mu.Lock()
			defer mu.Unlock()
			if h := c.GetHeader("Reason"); h != nil {
				reason = h.Value()
			}
		})
		<-tx.Done()
	})
	go func() { _ = srv.ServeUDP(conn) }()
	t.Cleanup(func() { srv.Close(); conn.Close(); ua.Close() })

	// Register 101 from that port with digest auth.
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(port))
	require.NoError(t, err)
	host, p, _ := net.SplitHostPort(s.SIP.Addr())
	sport, _ := strconv.Atoi(p)
	reg := func(auth string) *sip.Response {
		req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: host, Port: sport})
		req.AppendHeader(sip.NewHeader("To", "<sip:101@"+host+">"))
		req.AppendHeader(sip.NewHeader("From", "<sip:101@"+host+">;tag=r1"))
		req.AppendHeader(sip.NewHeader("Contact", "<sip:101@127.0.0.1:"+strconv.Itoa(port)+">"))
		req.AppendHeader(sip.NewHeader("Expires", "120"))
		if auth != "" {
			req.AppendHeader(sip.NewHeader("Authorization", auth))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		res, err := client.Do(ctx, req)
		require.NoError(t, err)
		return res
	}
	res := reg("")
	require.Equal(t, 401, res.StatusCode)
	chal, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
	require.NoError(t, err)
	creds, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:" + s.SIP.Addr(),
		Username: "101", Password: "alice-sip-pass", Count: 1})
	require.NoError(t, err)
	require.Equal(t, 200, reg(creds.String()).StatusCode)

	tab := s.Phone(t, s.Alice, 0, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	out := dial(t, bob, "101")
	in := harness.NextIncoming(t, tab)
	answer(t, in)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	harness.CheckFor(t, 10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if reason != `SIP;cause=200;text="Call completed elsewhere"` {
			return strErr("CANCEL reason " + reason)
		}
		return nil
	})
}
