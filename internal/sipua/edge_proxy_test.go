package sipua

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/require"
)

// edgeWire is a UA with the edge on, a peer node (a UDP socket) and a
// phone (a TCP connection) bound to Bob, both speaking raw SIP.
type edgeWire struct {
	ua    *UA
	peer  *net.UDPConn
	phone net.Conn
	r     *bufio.Reader
	route string
	n     int
}

func newEdgeWire(t *testing.T) *edgeWire {
	f := start(t, nil)
	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { peer.Close() })
	f.ua.SetEdgePeers(func(a string) bool { return a == peer.LocalAddr().String() })
	phone, err := net.Dial("tcp", f.ua.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { phone.Close() })
	w := &edgeWire{ua: f.ua, peer: peer, phone: phone, r: bufio.NewReader(phone)}
	// Any request puts the phone's connection in sipgo's pool, as its
	// REGISTER would.
	w.toUA(t, fmt.Sprintf("OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bK-o\r\nFrom: <sip:102@h>;tag=o\r\n"+
		"To: <sip:%s>\r\nCall-ID: o\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", f.ua.Addr(), phone.LocalAddr(), f.ua.Addr()))
	require.Equal(t, 200, w.phoneRead(t).(*sip.Response).StatusCode)
	c := Contact{User: "user_bob", URI: "sip:102@" + phone.LocalAddr().String() + ";transport=tcp",
		Source: phone.LocalAddr().String(), Transport: "tcp", Expires: time.Now().Add(time.Hour)}
	f.ua.Registrar.mu.Lock()
	f.ua.Registrar.bindings[c.User] = []Contact{c}
	f.ua.Registrar.mu.Unlock()
	w.route = f.ua.EdgeRoute(c)
	return w
}

func (w *edgeWire) toUA(t *testing.T, msg string) {
	_, err := w.phone.Write([]byte(msg))
	require.NoError(t, err)
}

// phoneRead reads the next message on the phone's connection.
func (w *edgeWire) phoneRead(t *testing.T) sip.Message {
	t.Helper()
	require.NoError(t, w.phone.SetReadDeadline(time.Now().Add(5*time.Second)))
	var head strings.Builder
	length := 0
	for {
		line, err := w.r.ReadString('\n')
		require.NoError(t, err)
		if line == "\r\n" {
			if head.Len() == 0 {
				continue // keep-alive
			}
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "content-length") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
		head.WriteString(line)
	}
	body := make([]byte, length)
	_, err := io.ReadFull(w.r, body)
	require.NoError(t, err)
	m, err := sip.ParseMessage(append([]byte(head.String()+"\r\n"), body...))
	require.NoError(t, err)
	return m
}

// peerSend sends msg from the peer to the UA.
func (w *edgeWire) peerSend(t *testing.T, msg string) {
	addr, err := net.ResolveUDPAddr("udp", w.ua.Addr())
	require.NoError(t, err)
	_, err = w.peer.WriteTo([]byte(strings.ReplaceAll(msg, "\n", "\r\n")), addr)
	require.NoError(t, err)
}

// peerResponse reads the next response the peer gets, past any 100.
func (w *edgeWire) peerResponse(t *testing.T) *sip.Response {
	t.Helper()
	buf := make([]byte, 65536)
	for {
		require.NoError(t, w.peer.SetReadDeadline(time.Now().Add(5*time.Second)))
		n, _, err := w.peer.ReadFrom(buf)
		require.NoError(t, err)
		m, err := sip.ParseMessage(buf[:n])
		require.NoError(t, err)
		res, ok := m.(*sip.Response)
		require.True(t, ok, "the peer got a request: %s", m)
		if res.StatusCode != 100 {
			return res
		}
	}
}

// invite sends an INVITE from the peer with route and returns its branch.
func (w *edgeWire) invite(t *testing.T, route string) string {
	w.n++
	branch := fmt.Sprintf("z9hG4bK-peer-%d", w.n)
	w.peerSend(t, fmt.Sprintf(`INVITE sip:102@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP %[1]s;branch=%[2]s
Route: %[3]s
Max-Forwards: 70
From: <sip:101@127.0.0.1>;tag=p%[4]d
To: <sip:102@127.0.0.1>
Call-ID: edge-%[4]d
CSeq: 1 INVITE
Contact: <sip:switchboard@%[1]s>
Content-Length: 0

`, w.peer.LocalAddr(), branch, route, w.n))
	return branch
}

// reply sends the phone's response to req.
func (w *edgeWire) reply(t *testing.T, req *sip.Request, status int, reason string) {
	res := sip.NewResponseFromRequest(req, status, reason, nil)
	if tag, _ := res.To().Params.Get("tag"); tag == "" {
		res.To().Params.Add("tag", "phone")
	}
	w.toUA(t, res.String())
}

func TestEdgeProxiesInviteToFlow(t *testing.T) {
	w := newEdgeWire(t)
	w.invite(t, w.route)
	inv := w.phoneRead(t).(*sip.Request)
	require.Equal(t, sip.INVITE, inv.Method)
	vias := inv.GetHeaders("Via")
	require.Len(t, vias, 2)
	require.Equal(t, "TCP", inv.Via().Transport)
	require.Empty(t, inv.GetHeaders("Route"))
	require.Len(t, inv.GetHeaders("Record-Route"), 2)
	require.Equal(t, "69", inv.MaxForwards().Value())

	w.reply(t, inv, 180, "Ringing")
	res := w.peerResponse(t)
	require.Equal(t, 180, res.StatusCode)
	require.Len(t, res.GetHeaders("Via"), 1, "the edge's Via is taken off")
	require.Len(t, res.GetHeaders("Record-Route"), 2)
	w.reply(t, inv, 486, "Busy Here")
	require.Equal(t, 486, w.peerResponse(t).StatusCode)
	ack := w.phoneRead(t).(*sip.Request)
	require.Equal(t, sip.ACK, ack.Method, "the edge ACKs the phone's 486 hop by hop")
}

func TestEdgeCancelsDownstream(t *testing.T) {
	w := newEdgeWire(t)
	branch := w.invite(t, w.route)
	inv := w.phoneRead(t).(*sip.Request)
	w.reply(t, inv, 180, "Ringing")
	require.Equal(t, 180, w.peerResponse(t).StatusCode)
	w.peerSend(t, fmt.Sprintf(`CANCEL sip:102@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP %[1]s;branch=%[2]s
Route: %[3]s
Max-Forwards: 70
From: <sip:101@127.0.0.1>;tag=p1
To: <sip:102@127.0.0.1>
Call-ID: edge-1
CSeq: 1 CANCEL
Content-Length: 0

`, w.peer.LocalAddr(), branch, w.route))
	got := map[int]bool{}
	for range 2 {
		got[w.peerResponse(t).StatusCode] = true // 200 for the CANCEL, 487 for the INVITE
	}
	require.Equal(t, map[int]bool{200: true, 487: true}, got)
	cancel := w.phoneRead(t).(*sip.Request)
	require.Equal(t, sip.CANCEL, cancel.Method)
	require.Equal(t, inv.Via().Params, cancel.Via().Params, "the INVITE's branch (RFC 3261 §9.1)")
	w.reply(t, cancel, 200, "OK")
	w.reply(t, inv, 487, "Request Terminated")
	require.Equal(t, sip.ACK, w.phoneRead(t).(*sip.Request).Method)
	require.Eventually(t, func() bool { return w.ua.edgeDlg.size() == 0 }, 5*time.Second, 10*time.Millisecond,
		"a cancelled INVITE leaves no dialog")
}

func TestEdgeFlowGone(t *testing.T) {
	w := newEdgeWire(t)
	// The binding outlives its connection (until it expires or the phone
	// registers again): the edge opens no connection to a phone.
	w.ua.Registrar.mu.Lock()
	w.ua.Registrar.bindings["user_bob"][0].Source = "127.0.0.1:9"
	w.ua.Registrar.mu.Unlock()
	w.invite(t, w.route)
	require.Equal(t, 430, w.peerResponse(t).StatusCode)
}

func TestEdgeRefusesStrangerAndBadToken(t *testing.T) {
	w := newEdgeWire(t)
	bad := "<sip:" + w.ua.Addr() + ";lr;flow=user_bob.AAAAAAAAAAAAAAAA>"
	w.invite(t, bad)
	require.Equal(t, 430, w.peerResponse(t).StatusCode)
	stranger, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer stranger.Close()
	w.peer = stranger // no peer: the real token does not help
	w.invite(t, w.route)
	require.Equal(t, 403, w.peerResponse(t).StatusCode)
}

// peerRequest reads the next request the peer gets, and where from.
func (w *edgeWire) peerRequest(t *testing.T) (*sip.Request, string) {
	t.Helper()
	buf := make([]byte, 65536)
	require.NoError(t, w.peer.SetReadDeadline(time.Now().Add(5*time.Second)))
	n, from, err := w.peer.ReadFrom(buf)
	require.NoError(t, err)
	m, err := sip.ParseMessage(buf[:n])
	require.NoError(t, err)
	req, ok := m.(*sip.Request)
	require.True(t, ok, "the peer got a response: %s", m)
	return req, from.String()
}

// TestEdgeDialogBothWays: after the phone's 200, the peer's ACK (end to
// end) and the phone's BYE (from its flow, to the peer) follow the route
// set through the edge.
func TestEdgeDialogBothWays(t *testing.T) {
	w := newEdgeWire(t)
	w.invite(t, w.route)
	inv := w.phoneRead(t).(*sip.Request)
	ok := sip.NewResponseFromRequest(inv, 200, "OK", nil)
	ok.To().Params.Add("tag", "phone")
	phoneContact := "sip:102@" + w.phone.LocalAddr().String() + ";transport=tcp"
	ok.AppendHeader(sip.NewHeader("Contact", "<"+phoneContact+">"))
	w.toUA(t, ok.String())
	res := w.peerResponse(t)
	require.Equal(t, 200, res.StatusCode)
	rrs := res.GetHeaders("Record-Route")
	require.Len(t, rrs, 2)
	phoneSide, peerSide := rrs[0].Value(), rrs[1].Value()
	w.toUA(t, ok.String()) // no ACK yet: the phone retransmits its 200, which goes on upstream
	require.Equal(t, 200, w.peerResponse(t).StatusCode)

	// The peer's ACK: the route set reversed (RFC 3261 §12.1.2).
	w.peerSend(t, fmt.Sprintf(`ACK %[1]s SIP/2.0
Via: SIP/2.0/UDP %[2]s;branch=z9hG4bK-ack1
Route: %[3]s
Route: %[4]s
Max-Forwards: 70
From: <sip:101@127.0.0.1>;tag=p1
To: <sip:102@127.0.0.1>;tag=phone
Call-ID: edge-1
CSeq: 1 ACK
Content-Length: 0

`, phoneContact, w.peer.LocalAddr(), peerSide, phoneSide))
	ack := w.phoneRead(t).(*sip.Request)
	require.Equal(t, sip.ACK, ack.Method)
	require.Empty(t, ack.GetHeaders("Route"))
	require.Len(t, ack.GetHeaders("Via"), 2)

	// The phone's BYE: the route set in order (RFC 3261 §12.1.1).
	w.toUA(t, fmt.Sprintf("BYE sip:switchboard@%[1]s SIP/2.0\r\nVia: SIP/2.0/TCP %[2]s;branch=z9hG4bK-bye1\r\n"+
		"Route: %[3]s\r\nRoute: %[4]s\r\nMax-Forwards: 70\r\nFrom: <sip:102@127.0.0.1>;tag=phone\r\n"+
		"To: <sip:101@127.0.0.1>;tag=p1\r\nCall-ID: edge-1\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
		w.peer.LocalAddr(), w.phone.LocalAddr(), phoneSide, peerSide))
	bye, from := w.peerRequest(t)
	require.Equal(t, sip.BYE, bye.Method)
	require.Equal(t, w.ua.Addr(), from, "requests to peers leave from the listener")
	require.Empty(t, bye.GetHeaders("Route"))
	w.peer.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := w.peer.WriteTo([]byte(sip.NewResponseFromRequest(bye, 200, "OK", nil).String()), mustUDPAddr(t, from))
	require.NoError(t, err)
	got := w.phoneRead(t).(*sip.Response)
	require.Equal(t, 200, got.StatusCode)
	require.Equal(t, sip.BYE, got.CSeq().MethodName)
}

func mustUDPAddr(t *testing.T, s string) *net.UDPAddr {
	a, err := net.ResolveUDPAddr("udp", s)
	require.NoError(t, err)
	return a
}

// A phone that rings and never answers nor gives up does not hold the
// edge's transactions for good: Timer C cancels it downstream and answers
// 408 upstream.
func TestEdgeTimerC(t *testing.T) {
	defer func(c time.Duration) { edgeTimerC = c }(edgeTimerC)
	edgeTimerC = 300 * time.Millisecond
	w := newEdgeWire(t)
	w.invite(t, w.route)
	inv := w.phoneRead(t).(*sip.Request)
	w.reply(t, inv, 180, "Ringing")
	require.Equal(t, 180, w.peerResponse(t).StatusCode)
	require.Equal(t, 408, w.peerResponse(t).StatusCode)
	cancel := w.phoneRead(t).(*sip.Request)
	require.Equal(t, sip.CANCEL, cancel.Method)
	w.reply(t, cancel, 200, "OK")
	w.reply(t, inv, 487, "Request Terminated")
	require.Eventually(t, func() bool { return w.ua.edgeDlg.size() == 0 }, 5*time.Second, 10*time.Millisecond,
		"an INVITE given up leaves no dialog")
}
