package sipua

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/require"
)

// tokenOf is the flow token in an EdgeRoute.
func tokenOf(route string) string {
	return strings.TrimSuffix(strings.Split(route, "flow=")[1], ">")
}

// A phone's own token opens only its own dialogs: Carol, on the same edge
// as Bob, cannot end Bob's call with her token and his dialog's Call-ID
// and tags.
func TestEdgeForwardOnlyTheFlowsDialogs(t *testing.T) {
	f := newEdgeFixture(t)
	carol := Contact{User: "user_carol", URI: "sip:103@127.0.0.10:5062;transport=tcp", Source: "127.0.0.10:40001",
		Transport: "tcp", Expires: time.Now().Add(time.Hour)}
	f.ua.Registrar.mu.Lock()
	f.ua.Registrar.bindings[carol.User] = []Contact{carol}
	f.ua.Registrar.mu.Unlock()
	bobTok, carolTok := tokenOf(f.route), tokenOf(f.ua.EdgeRoute(carol))
	f.ua.edgeDlg.add(bobTok, "bob-call@127.0.0.1", "owner-b")
	f.ua.edgeDlg.confirm(bobTok, "bob-call@127.0.0.1", "bob-phone")
	f.ua.edgeDlg.add(carolTok, "carol-call@127.0.0.1", "owner-c")
	f.ua.edgeDlg.confirm(carolTok, "carol-call@127.0.0.1", "carol-phone")
	// Carol's BYE: her route set (her token), a dialog's Call-ID and tags.
	bye := func(callID, from, to string) string {
		return "BYE sip:switchboard@" + edgePeerAddr + " SIP/2.0\r\n" +
			"Via: SIP/2.0/TCP 127.0.0.10:40001;branch=z9hG4bK-carol-1\r\n" +
			"Route: <sip:" + f.ua.Addr() + ";transport=tcp;lr;flow=" + carolTok + ">\r\n" +
			"Route: <sip:" + f.ua.Addr() + ";lr;flow=" + carolTok + ">\r\n" +
			"Max-Forwards: 70\r\n" +
			"From: <sip:103@127.0.0.1>;tag=" + from + "\r\n" +
			"To: <sip:101@127.0.0.1>;tag=" + to + "\r\n" +
			"Call-ID: " + callID + "\r\n" +
			"CSeq: 2 BYE\r\n" +
			"Content-Length: 0\r\n\r\n"
	}
	for _, tc := range []struct {
		name   string
		msg    string
		status int
	}{
		{"her own dialog", bye("carol-call@127.0.0.1", "carol-phone", "owner-c"), 0},
		{"bob's dialog", bye("bob-call@127.0.0.1", "bob-phone", "owner-b"), 403},
		{"bob's call-id, her tags", bye("bob-call@127.0.0.1", "carol-phone", "owner-c"), 403},
		{"her call-id, another owner tag", bye("carol-call@127.0.0.1", "carol-phone", "owner-b"), 403},
		{"her call-id, another phone tag", bye("carol-call@127.0.0.1", "bob-phone", "owner-c"), 403},
		{"an unknown call-id", bye("guess@127.0.0.1", "carol-phone", "owner-c"), 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := sip.ParseMessage([]byte(tc.msg))
			require.NoError(t, err)
			req := m.(*sip.Request)
			req.SetSource(carol.Source)
			req.SetTransport("TCP")
			require.True(t, f.ua.edgeRouted(req))
			hop, rej := f.ua.edgeForward(req)
			if tc.status != 0 {
				require.NotNil(t, rej)
				require.Equal(t, tc.status, rej.status, rej.reason)
				return
			}
			require.Nil(t, rej)
			require.Equal(t, edgePeerAddr, hop.out.Destination())
		})
	}
	// Peers' requests to a phone are not checked: the owner is trusted.
	hop, rej := f.ua.edgeForward(edgeRequest(t, edgeMsg("BYE", carol.URI, f.ua.EdgeRoute(carol), ";tag=x", 70), edgePeerAddr, "UDP"))
	require.Nil(t, rej)
	require.Equal(t, carol.Source, hop.out.Destination())
}

// Over the wire: the phone's dialog is known from the proxied INVITE's
// 2xx until its BYE's 200; a failed INVITE leaves none.
func TestEdgeDialogLifetime(t *testing.T) {
	w := newEdgeWire(t)
	tok := tokenOf(w.route)
	branch := w.invite(t, w.route) // Call-ID edge-1, owner tag p1
	inv := w.phoneRead(t).(*sip.Request)
	w.reply(t, inv, 486, "Busy Here")
	busy := w.peerResponse(t)
	require.Equal(t, 486, busy.StatusCode)
	require.Equal(t, sip.ACK, w.phoneRead(t).(*sip.Request).Method)
	w.peerSend(t, fmt.Sprintf(`ACK sip:102@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP %[1]s;branch=%[2]s
Route: %[3]s
Max-Forwards: 70
From: <sip:101@127.0.0.1>;tag=p1
To: %[4]s
Call-ID: edge-1
CSeq: 1 ACK
Content-Length: 0

`, w.peer.LocalAddr(), branch, w.route, busy.To().Value())) // hop by hop: the edge's 486 is not retransmitted
	require.Eventually(t, func() bool { return w.ua.edgeDlg.size() == 0 }, 5*time.Second, 10*time.Millisecond, "a refused INVITE leaves no dialog")

	w.invite(t, w.route) // Call-ID edge-2, owner tag p2
	inv = w.phoneRead(t).(*sip.Request)
	rrs := inv.GetHeaders("Record-Route")
	require.Len(t, rrs, 2)
	w.reply(t, inv, 200, "OK")
	ok := w.peerResponse(t)
	require.Equal(t, 200, ok.StatusCode)
	require.Equal(t, 1, w.ua.edgeDlg.size())
	phoneTag, _ := ok.To().Params.Get("tag")

	bye := func(callID, toTag string, n int) string {
		return fmt.Sprintf("BYE sip:switchboard@%[1]s SIP/2.0\r\n"+
			"Via: SIP/2.0/TCP %[2]s;branch=z9hG4bK-bye-%[6]d\r\n"+
			"Route: %[3]s\r\n"+
			"Route: %[4]s\r\n"+
			"Max-Forwards: 70\r\n"+
			"From: <sip:102@127.0.0.1>;tag=%[8]s\r\n"+
			"To: <sip:101@127.0.0.1>;tag=%[5]s\r\n"+
			"Call-ID: %[7]s\r\n"+
			"CSeq: 2 BYE\r\n"+
			"Content-Length: 0\r\n\r\n", w.peer.LocalAddr(), w.phone.LocalAddr(), rrs[0].Value(), rrs[1].Value(), toTag, n, callID, phoneTag)
	}
	// Another dialog's Call-ID (through this edge, or not): refused.
	w.toUA(t, bye("edge-1", "p1", 1))
	res := w.phoneRead(t).(*sip.Response)
	require.Equal(t, 403, res.StatusCode)
	require.Equal(t, sip.BYE, res.CSeq().MethodName)

	// Its own: forwarded to the owner, whose 200 ends the dialog.
	w.toUA(t, bye("edge-2", "p2", 2))
	req, from := w.peerRequest(t)
	require.Equal(t, sip.BYE, req.Method)
	require.Equal(t, "edge-2", req.CallID().Value())
	_, err := w.peer.WriteTo([]byte(sip.NewResponseFromRequest(req, 200, "OK", nil).String()), mustUDPAddr(t, from))
	require.NoError(t, err)
	require.Equal(t, 200, w.phoneRead(t).(*sip.Response).StatusCode)
	require.Eventually(t, func() bool { return w.ua.edgeDlg.size() == 0 }, 5*time.Second, 10*time.Millisecond, "the BYE's 200 ends the dialog")
	require.False(t, w.ua.edgeDlg.allows(tok, "edge-2", phoneTag, "p2"))

	w.toUA(t, bye("edge-2", "p2", 3))
	require.Equal(t, 403, w.phoneRead(t).(*sip.Response).StatusCode, "an ended dialog is no longer the phone's")
}

// The table is bounded per flow (least recently used out) and forgets
// dialogs idle for the TTL.
func TestEdgeDialogsBounded(t *testing.T) {
	defer func(n int) { edgeDialogsPerFlow = n }(edgeDialogsPerFlow)
	edgeDialogsPerFlow = 4
	now := time.Unix(1_000_000, 0)
	d := newEdgeDialogs()
	d.now = func() time.Time { return now }
	tick := func(dt time.Duration) { now = now.Add(dt) }
	for i := range 4 {
		d.add("a", fmt.Sprint("c", i), "o")
		tick(time.Second)
	}
	require.True(t, d.allows("a", "c0", "any", "o"), "an early dialog: the phone's tag is not known yet")
	tick(time.Second)
	d.add("a", "c4", "o") // c1 is the least recently used (c0 was just used)
	require.Equal(t, 4, d.size())
	require.False(t, d.allows("a", "c1", "p", "o"))
	for _, id := range []string{"c0", "c2", "c3", "c4"} {
		require.True(t, d.allows("a", id, "p", "o"), id)
	}
	d.add("a", "c4", "o") // again: replaced, not added
	require.Equal(t, 4, d.size())
	d.add("b", "c0", "o") // another flow has its own bound and dialogs
	require.Equal(t, 5, d.size())
	require.False(t, d.allows("b", "c2", "p", "o"))

	d.confirm("a", "c2", "phone")
	require.False(t, d.allows("a", "c2", "other", "o"))
	require.True(t, d.allows("a", "c2", "phone", "o"))
	d.forget("a", "c2")
	require.False(t, d.allows("a", "c2", "phone", "o"))

	// TTL: idle dialogs expire; used ones (either end) stay.
	tick(edgeDialogTTL - time.Minute)
	d.touch("a", "c3")
	require.True(t, d.allows("a", "c4", "p", "o"))
	tick(2 * time.Minute)
	require.False(t, d.allows("a", "c0", "p", "o"), "idle for the TTL")
	require.False(t, d.allows("b", "c0", "p", "o"))
	require.True(t, d.allows("a", "c3", "p", "o"))
	d.add("c", "x", "o") // sweeps every flow
	require.Equal(t, 3, d.size())
	d.mu.Lock()
	_, ok := d.flows["b"]
	d.mu.Unlock()
	require.False(t, ok, "a flow whose dialogs all expired is dropped")
}
