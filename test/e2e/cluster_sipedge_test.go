package e2e

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// sipAddrOf is node's SIP address as from sees it.
func sipAddrOf(t *testing.T, from *harness.Process, node string) string {
	t.Helper()
	for _, n := range nodesOn(t, from) {
		if n.Node == node {
			return n.SIP
		}
	}
	t.Fatalf("no node %s", node)
	return ""
}

// edgeRouteOf waits until from sees user's desk phone on node over TCP
// and returns the Route through that node (docs/adr/0010-sip-edge-proxy.md).
func edgeRouteOf(t *testing.T, from *harness.Process, user, node string) string {
	t.Helper()
	return edgeRouteOver(t, from, user, node, "tcp")
}

// edgeRouteOver is edgeRouteOf for a phone on transport (tcp, tls, ws).
func edgeRouteOver(t *testing.T, from *harness.Process, user, node, transport string) string {
	t.Helper()
	var route string
	harness.CheckFor(t, 10*time.Second, func() error {
		var res struct {
			Data []struct {
				Node  string `json:"node"`
				Kind  string `json:"kind"`
				Flow  string `json:"flow"`
				Route string `json:"route"`
			} `json:"data"`
		}
		from.Get(t, "/v1/cluster/locations/"+user, &res)
		for _, l := range res.Data {
			if l.Node == node && l.Kind == "sip" && strings.HasPrefix(l.Flow, transport+" ") && l.Route != "" {
				route = l.Route
				return nil
			}
		}
		return fmt.Errorf("no %s phone of %s on %s with a route: %+v", transport, user, node, res.Data)
	})
	return route
}

// TestClusterRingsTCPDeskPhone: Bob's desk phone registers to node 2 over
// TCP, so only node 2's connection reaches it. Alice calls him from node
// 1, which owns the call: the INVITE goes to node 2 with a Route naming
// Bob's flow, node 2 proxies it onto the connection and Record-Routes
// itself. Audio flows both ways (phone ↔ node 1); the browser's hold is
// music; the phone's own hold and resume are re-INVITEs through node 2;
// the browser's BYE reaches the phone through node 2, and on a second
// call the phone's BYE reaches node 1 the same way.
func TestClusterRingsTCPDeskPhone(t *testing.T) {
	nodes := startCluster(t, 2)
	n1 := nodes[0]
	n2SIP := sipAddrOf(t, n1, "n2")
	bobID := userID(t, n1, "102")
	desk := harness.StartBaresip(t, harness.BaresipOptions{User: "102", Password: "bob-sip-pass",
		Registrar: n2SIP, Transport: "tcp", ToneHz: 440})
	route := edgeRouteOf(t, n1, bobID, "n2")
	require.Contains(t, route, ";lr;flow=")
	alice, err := processPhone(t, n1, "101", 1000)
	require.NoError(t, err)

	start := time.Now()
	out := dial(t, alice, "102")
	harness.Wait(t, out, protocol.TypeCallAnswered)
	answered := time.Since(start)
	harness.HearsTone(t, out, 440)
	desk.HeardTone(t, 1000)

	require.NoError(t, out.Hold())
	harness.Wait(t, out, protocol.TypeCallHeld)
	desk.HeardMusic(t, 1000)
	require.NoError(t, out.Resume())
	harness.Wait(t, out, protocol.TypeCallResumed)
	desk.HeardTone(t, 1000)

	desk.Command(t, "hold", "") // a re-INVITE (sendonly) from the phone, through node 2
	held := harness.Wait(t, out, protocol.TypeCallHeld).(*protocol.CallHeld)
	require.Equal(t, protocol.HeldRemote, held.HeldBy)
	desk.Command(t, "resume", "")
	harness.Wait(t, out, protocol.TypeCallResumed)
	out.Detector().Reset()
	harness.HearsTone(t, out, 440)

	require.NoError(t, out.Hangup()) // the BYE follows the route set through node 2
	harness.WaitEnded(t, out, protocol.EndHangup)
	hungUp(t, desk)

	out = dial(t, alice, "102")
	harness.Wait(t, out, protocol.TypeCallAnswered)
	harness.HearsTone(t, out, 440)
	desk.Command(t, "hangup", "") // the phone's BYE, through node 2 to node 1
	harness.WaitEnded(t, out, protocol.EndHangup)
	rec := recordOn(t, n1, out.ID)
	require.Equal(t, "hangup", rec["end_reason"])
	t.Logf("a TCP desk phone registered via node 2 answered a call owned by node 1 after %s", answered.Round(time.Millisecond))
}

// TestClusterEdgeCancel: Bob's desk phone (TCP, node 2, rings without
// answering) and his browser on node 1 ring together; the browser
// answers, so node 1 CANCELs the phone's INVITE through node 2.
func TestClusterEdgeCancel(t *testing.T) {
	nodes := startCluster(t, 2)
	n1 := nodes[0]
	n2SIP := sipAddrOf(t, n1, "n2")
	bobID := userID(t, n1, "102")
	desk := harness.StartBaresip(t, harness.BaresipOptions{User: "102", Password: "bob-sip-pass",
		Registrar: n2SIP, Transport: "tcp", Manual: true})
	edgeRouteOf(t, n1, bobID, "n2")
	alice, err := processPhone(t, n1, "101", 1000)
	require.NoError(t, err)
	tab, err := processPhone(t, n1, "102", 700)
	require.NoError(t, err)

	out := dial(t, alice, "102")
	in := harness.NextIncoming(t, tab)
	desk.WaitPrinted(t, "Incoming call", "the desk phone did not ring")
	require.NoError(t, in.Answer(harness.Ctx(t, 10*time.Second)))
	harness.Wait(t, out, protocol.TypeCallAnswered)
	desk.WaitPrinted(t, "closed", "the desk phone's ringing was not cancelled")
	harness.HearsTone(t, out, 700)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, in, protocol.EndHangup)
}

// TestClusterEdgeRefusesStrangers: node 2's edge proxies only for its
// peers. A UDP request from an address that is no node, carrying the
// real Route of Bob's flow (or a forged token), is refused 403, and the
// phone never rings; so is an in-dialog request pretending to come from
// the flow.
func TestClusterEdgeRefusesStrangers(t *testing.T) {
	nodes := startCluster(t, 2)
	n1 := nodes[0]
	n2SIP := sipAddrOf(t, n1, "n2")
	bobID := userID(t, n1, "102")
	desk := harness.StartBaresip(t, harness.BaresipOptions{User: "102", Password: "bob-sip-pass",
		Registrar: n2SIP, Transport: "tcp"})
	route := edgeRouteOf(t, n1, bobID, "n2")
	host, port, err := net.SplitHostPort(n2SIP)
	require.NoError(t, err)
	forged := fmt.Sprintf("<sip:%s:%s;lr;flow=%s.AAAAAAAAAAAAAAAA>", host, port, bobID)
	for i, tc := range []struct {
		name, route, toTag string
	}{
		{"the flow's real route", route, ""},
		{"a forged token", forged, ""},
		{"in a made-up dialog", route, ";tag=made-up"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := harness.DialRawSIP(t, "udp", "127.0.0.1", n2SIP)
			msg := fmt.Sprintf("INVITE sip:102@127.0.0.1 SIP/2.0\n"+
				"Via: SIP/2.0/UDP %[1]s;branch=z9hG4bK-stranger-%[2]d;rport\n"+
				"Route: %[3]s\n"+
				"Max-Forwards: 70\n"+
				"From: <sip:mallory@127.0.0.1>;tag=m%[2]d\n"+
				"To: <sip:102@127.0.0.1>%[4]s\n"+
				"Call-ID: stranger-%[2]d@127.0.0.1\n"+
				"CSeq: 1 INVITE\n"+
				"Contact: <sip:mallory@%[1]s>\n"+
				"Content-Type: application/sdp\n\n"+
				"v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\n",
				c.LocalAddr(), i, tc.route, tc.toTag)
			c.SendMsg(t, msg)
			for {
				m, err := c.Read(5 * time.Second)
				require.NoError(t, err)
				res, ok := m.(*sip.Response)
				require.True(t, ok, "a request came back: %s", m)
				if res.StatusCode < 200 {
					continue
				}
				require.Equal(t, 403, res.StatusCode, res.String())
				break
			}
		})
	}
	require.NotContains(t, desk.Output(), "Incoming call", "the phone rang for a stranger")
}

// TestClusterRingsTLSDeskPhone: the same through node 2's TLS listener,
// with SRTP between the phone and node 1 (the keys cross the nodes'
// private network in the proxied SDP).
func TestClusterRingsTLSDeskPhone(t *testing.T) {
	ns := harness.StartNATS(t)
	bin := harness.BuildBinary(t)
	dirs := seedDataDir(t, bin, 2)
	cert, key := selfSigned(t)
	tlsAddr := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t, "tcp", "127.0.0.1"))
	var nodes []*harness.Process
	for i, extra := range []string{"", fmt.Sprintf("sip:\n  tls_listen: %s\n  tls_cert_file: %s\n  tls_key_file: %s\n", tlsAddr, cert, key)} {
		conf := fmt.Sprintf("cluster:\n  nats_url: %s\n  node_id: n%d\n  heartbeat: %s\n%s", ns.URL, i+1, clusterHeartbeat, extra)
		nodes = append(nodes, harness.StartProcessIn(t, bin, dirs[i], conf))
	}
	n1 := nodes[0]
	harness.CheckFor(t, 10*time.Second, func() error {
		if seen := nodesOn(t, n1); len(seen) != 2 {
			return fmt.Errorf("nodes %+v", seen)
		}
		return nil
	})
	bobID := userID(t, n1, "102")
	desk := harness.StartBaresip(t, harness.BaresipOptions{User: "102", Password: "bob-sip-pass",
		Registrar: tlsAddr, Transport: "tls", CAFile: cert, MediaEnc: "srtp-mand", ToneHz: 440})
	edgeRouteOver(t, n1, bobID, "n2", "tls")
	alice, err := processPhone(t, n1, "101", 1000)
	require.NoError(t, err)
	out := dial(t, alice, "102")
	harness.Wait(t, out, protocol.TypeCallAnswered)
	srtpEnabled(t, desk)
	harness.HearsTone(t, out, 440)
	desk.HeardTone(t, 1000)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	hungUp(t, desk)
}

// TestClusterRingsWSPhone: a browser SIP phone registered to node 2 over
// WebSocket gets node 1's INVITE down its own socket, through node 2
// (which Record-Routes itself for the WebSocket side), offering WebRTC
// media from node 1. It is busy: the caller hears so.
func TestClusterRingsWSPhone(t *testing.T) {
	nodes := startCluster(t, 2)
	n1, n2 := nodes[0], nodes[1]
	bobID := userID(t, n1, "102")
	w := dialSIPWSURL(t, strings.Replace(n2.URL(), "http", "ws", 1)+"/v1/sip")
	registerWS(t, w, store.User{SIPUsername: "102", SIPPassword: "bob-sip-pass"})
	edgeRouteOver(t, n1, bobID, "n2", "ws")
	alice, err := processPhone(t, n1, "101", 1000)
	require.NoError(t, err)
	out := dial(t, alice, "102")

	inv, ok := w.read().(*sip.Request)
	require.True(t, ok)
	require.Equal(t, sip.INVITE, inv.Method)
	require.Equal(t, "WS", inv.Via().Transport, "node 2's Via, on the phone's socket")
	require.Len(t, inv.GetHeaders("Via"), 2, "node 2's and node 1's")
	rr := inv.GetHeaders("Record-Route")
	require.Len(t, rr, 2)
	require.Contains(t, rr[0].Value(), "transport=ws")
	require.Contains(t, rr[0].Value(), ";lr;flow=")
	require.Empty(t, inv.GetHeaders("Route"), "node 2 took its Route off")
	require.Contains(t, string(inv.Body()), "UDP/TLS/RTP/SAVPF")
	busy := sip.NewResponseFromRequest(inv, 486, "Busy Here", nil)
	busy.To().Params.Add("tag", "wsbusy1")
	w.send(busy.String())
	ack, ok := w.read().(*sip.Request)
	require.True(t, ok)
	require.Equal(t, sip.ACK, ack.Method) // node 2 ACKs the 486 hop by hop
	harness.WaitEnded(t, out, protocol.EndBusy)
}
