package e2e

import (
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
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
	registerDigest(t, client, s.SIP.Addr(), "UDP", "101", "alice-sip-pass", "<sip:101@127.0.0.1:"+strconv.Itoa(port)+">")

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
