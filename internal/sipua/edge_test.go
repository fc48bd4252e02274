package sipua

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

func TestParseFlowToken(t *testing.T) {
	for _, tc := range []struct {
		in   string
		user ident.UserID
		ok   bool
	}{
		{"user_abc.AAAAAAAAAAAAAAAA", "user_abc", true},
		{"a.b.c.AAAAAAAAAAAAAAAA", "a.b.c", true},    // the MAC follows the last dot
		{"user_abc.AAAA", "", false},                 // too short a MAC
		{"user_abc.AAAAAAAAAAAAAAAAAAAA", "", false}, // too long
		{".AAAAAAAAAAAAAAAA", "", false},
		{"user_abc", "", false},
		{"", "", false},
		{"us er.AAAAAAAAAAAAAAAA", "", false},
		{"user;x=1.AAAAAAAAAAAAAAAA", "", false},
		{"user_abc.AAAAAAAAAAAAAAA=", "", false},
		{strings.Repeat("u", 200) + ".AAAAAAAAAAAAAAAA", "", false},
	} {
		user, mac, err := parseFlowToken(tc.in)
		if !tc.ok {
			require.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.user, user)
		require.Len(t, mac, flowMACLen)
	}
}

func TestParseRouteSet(t *testing.T) {
	for _, tc := range []struct {
		in    []string
		hosts []string
		err   bool
	}{
		{[]string{"<sip:10.0.0.1:5060;lr;flow=x.y>"}, []string{"10.0.0.1"}, false},
		{[]string{"<sip:a;lr>, <sip:b;lr>", "\"p, q\" <sip:c;lr>;x=1"}, []string{"a", "b", "c"}, false},
		{[]string{"<sip:a;lr>,<sips:b>"}, []string{"a", "b"}, false},
		{[]string{"sip:a;lr"}, nil, true}, // name-addr only
		{[]string{"<tel:+1555>"}, nil, true},
		{[]string{"<sip:a"}, nil, true},
		{[]string{"<>"}, nil, true},
		{[]string{strings.Repeat("<sip:a>,", maxRoutes) + "<sip:b>"}, nil, true},
	} {
		got, err := parseRouteSet(tc.in)
		if tc.err {
			require.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		var hosts []string
		for _, u := range got {
			hosts = append(hosts, u.Host)
		}
		require.Equal(t, tc.hosts, hosts, tc.in)
	}
}

// edgeFixture is a UA with one TCP phone of Bob's bound and a peer at
// 127.0.0.1:7000.
type edgeFixture struct {
	ua    *UA
	phone Contact
	route string // the phone's EdgeRoute
}

const edgePeerAddr = "127.0.0.1:7000"

func newEdgeFixture(t *testing.T) *edgeFixture {
	f := start(t, nil)
	f.ua.SetEdgePeers(func(addr string) bool { return addr == edgePeerAddr })
	c := Contact{User: "user_bob", URI: "sip:102@127.0.0.9:5062;transport=tcp", Source: "127.0.0.9:40000",
		Transport: "tcp", Expires: time.Now().Add(time.Hour)}
	f.ua.Registrar.mu.Lock()
	f.ua.Registrar.bindings[c.User] = []Contact{c}
	f.ua.Registrar.mu.Unlock()
	return &edgeFixture{ua: f.ua, phone: c, route: f.ua.EdgeRoute(c)}
}

// request parses msg as received from src over transport.
func edgeRequest(t *testing.T, msg, src, transport string) *sip.Request {
	m, err := sip.ParseMessage([]byte(strings.ReplaceAll(strings.TrimLeft(msg, "\n"), "\n", "\r\n") + "\r\n"))
	require.NoError(t, err)
	req := m.(*sip.Request)
	req.SetSource(src)
	req.SetTransport(transport)
	return req
}

func edgeMsg(method, uri, route, toTag string, maxForwards int) string {
	return fmt.Sprintf(`%[1]s %[2]s SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:7000;branch=z9hG4bK-1
Route: %[3]s
Max-Forwards: %[5]d
From: <sip:101@127.0.0.1>;tag=a
To: <sip:102@127.0.0.1>%[4]s
Call-ID: edge-1
CSeq: 1 %[1]s
Content-Length: 0
`, method, uri, route, toTag, maxForwards)
}

func TestEdgeForward(t *testing.T) {
	f := newEdgeFixture(t)
	require.True(t, strings.HasPrefix(f.route, "<sip:"+f.ua.Addr()+";lr;flow=user_bob."), f.route)
	self := strings.TrimSuffix(strings.TrimPrefix(f.route, "<"), ">")
	badTok := "<sip:" + f.ua.Addr() + ";lr;flow=user_bob.AAAAAAAAAAAAAAAA>"
	phoneRR := "<sip:" + f.ua.Addr() + ";transport=tcp;lr;flow=" + strings.Split(self, "flow=")[1] + ">"
	// The phone's dialog edge-1 (its tag a, the owner's b), as proxy records it.
	f.ua.edgeDlg.add(strings.Split(self, "flow=")[1], "edge-1", "b")
	f.ua.edgeDlg.confirm(strings.Split(self, "flow=")[1], "edge-1", "a")
	for _, tc := range []struct {
		name      string
		msg       string
		src, tp   string
		status    int
		dest, otp string
		rr        int
	}{
		{"invite from a peer", edgeMsg("INVITE", f.phone.URI, f.route, "", 70), edgePeerAddr, "UDP", 0, f.phone.Source, "TCP", 2},
		{"bye from a peer", edgeMsg("BYE", f.phone.URI, f.route+", "+phoneRR, ";tag=b", 70), edgePeerAddr, "UDP", 0, f.phone.Source, "TCP", 0},
		{"invite from a stranger", edgeMsg("INVITE", f.phone.URI, f.route, "", 70), "127.0.0.1:7001", "UDP", 403, "", "", 0},
		{"unknown token from a peer", edgeMsg("INVITE", f.phone.URI, badTok, "", 70), edgePeerAddr, "UDP", 430, "", "", 0},
		{"a route beyond the flow", edgeMsg("INVITE", f.phone.URI, f.route+", <sip:10.1.1.1;lr>", "", 70), edgePeerAddr, "UDP", 403, "", "", 0},
		{"out of hops", edgeMsg("INVITE", f.phone.URI, f.route, "", 0), edgePeerAddr, "UDP", 483, "", "", 0},
		{"bye from the phone to a peer", edgeMsg("BYE", "sip:switchboard@"+edgePeerAddr, phoneRR+", "+f.route, ";tag=b", 70), "127.0.0.9:40000", "TCP", 0, edgePeerAddr, "UDP", 0},
		{"bye from the phone to a stranger", edgeMsg("BYE", "sip:x@127.0.0.1:7001", phoneRR+", "+f.route, ";tag=b", 70), "127.0.0.9:40000", "TCP", 403, "", "", 0},
		{"new call from the phone", edgeMsg("INVITE", "sip:switchboard@"+edgePeerAddr, phoneRR, "", 70), "127.0.0.9:40000", "TCP", 403, "", "", 0},
		{"same host, other transport", edgeMsg("BYE", "sip:switchboard@"+edgePeerAddr, phoneRR, ";tag=b", 70), "127.0.0.9:40000", "UDP", 403, "", "", 0},
		{"malformed route", edgeMsg("INVITE", f.phone.URI, f.route+", <sip:", "", 70), edgePeerAddr, "UDP", 400, "", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := edgeRequest(t, tc.msg, tc.src, tc.tp)
			require.True(t, f.ua.edgeRouted(req))
			hop, rej := f.ua.edgeForward(req)
			if tc.status != 0 {
				require.NotNil(t, rej)
				require.Equal(t, tc.status, rej.status, rej.reason)
				return
			}
			require.Nil(t, rej)
			require.Equal(t, tc.dest, hop.out.Destination())
			require.Equal(t, tc.otp, hop.out.Transport())
			require.Empty(t, hop.out.GetHeaders("route"), "our own routes are popped")
			require.Equal(t, "69", hop.out.MaxForwards().Value())
			rrs := hop.out.GetHeaders("record-route")
			require.Len(t, rrs, tc.rr)
			if tc.rr == 2 {
				require.Contains(t, rrs[0].Value(), "transport=tcp", "the phone's side first (RFC 5658)")
				require.NotContains(t, rrs[1].Value(), "transport=")
			}
		})
	}
	// Max-Forwards 1 is the last hop, not one too many (RFC 3261 §16.6).
	hop, rej := f.ua.edgeForward(edgeRequest(t, edgeMsg("INVITE", f.phone.URI, f.route, "", 1), edgePeerAddr, "UDP"))
	require.Nil(t, rej)
	require.Equal(t, "0", hop.out.MaxForwards().Value())
}

func TestEdgeRoutedOnlyForUs(t *testing.T) {
	f := newEdgeFixture(t)
	other := "<sip:127.0.0.1:1;lr;flow=x.y>"
	for _, route := range []string{"", other, "<sip:" + f.ua.Addr() + ";lr>"} {
		msg := edgeMsg("INVITE", "sip:102@127.0.0.1", route, "", 70)
		if route == "" {
			msg = strings.Replace(msg, "Route: \n", "", 1)
		}
		require.False(t, f.ua.edgeRouted(edgeRequest(t, msg, edgePeerAddr, "UDP")), route)
	}
	// A UA outside a cluster has no edge.
	f.ua.SetEdgePeers(nil)
	require.False(t, f.ua.edgeRouted(edgeRequest(t, edgeMsg("INVITE", "sip:102@127.0.0.1", f.route, "", 70), edgePeerAddr, "UDP")))
}

func TestFlowTokenNamesBinding(t *testing.T) {
	f := newEdgeFixture(t)
	tok := f.ua.flowToken(f.phone)
	c, ok := f.ua.flowByToken(tok)
	require.True(t, ok)
	require.Equal(t, f.phone.Source, c.Source)
	udp := f.phone
	udp.Transport = "udp"
	require.Empty(t, f.ua.EdgeRoute(udp), "a UDP phone needs no edge")
	_, ok = f.ua.flowByToken(f.ua.flowToken(udp))
	require.False(t, ok)
}

func FuzzFlowToken(f *testing.F) {
	for _, s := range []string{"user_abc.AAAAAAAAAAAAAAAA", "a.b", "", ".", "user_x.____________----"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		user, mac, err := parseFlowToken(s)
		if err != nil {
			return
		}
		if len(mac) != flowMACLen || user == "" || strings.ContainsAny(string(user), ";,<>\"\r\n ") {
			t.Fatalf("token %q gave user %q mac %x", s, user, mac)
		}
	})
}

func FuzzRouteSet(f *testing.F) {
	for _, s := range []string{"<sip:a:5060;lr;flow=u.x>", "<sip:a;lr>, \"x,y\" <sip:b>;p", "<sip:", ",,", "<<sip:a>>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		uris, err := parseRouteSet([]string{s})
		if err != nil {
			return
		}
		if len(uris) == 0 || len(uris) > maxRoutes {
			t.Fatalf("%q gave %d routes", s, len(uris))
		}
		for _, u := range uris {
			if u.Host == "" {
				t.Fatalf("%q gave a route without host", s)
			}
		}
	})
}

// A response the phone sends back through the edge goes where the request
// came from, whatever the Vias it wrote say: a hostile phone cannot make
// the node send SIP to an address of its choosing.
func TestEdgeRelayedResponseGoesToTheRequester(t *testing.T) {
	req := edgeRequest(t, edgeMsg("INVITE", "sip:102@127.0.0.9:40000", "<sip:127.0.0.1:5060;lr;flow=x.y>", "", 70),
		"127.0.0.2:5070", "UDP")
	parse := func(vias string) *sip.Response {
		m, err := sip.ParseMessage([]byte(strings.ReplaceAll("SIP/2.0 180 Ringing\n"+vias+
			"From: <sip:101@127.0.0.1>;tag=a\nTo: <sip:102@127.0.0.1>;tag=b\nCall-ID: edge-1\nCSeq: 1 INVITE\nContent-Length: 0\n\n", "\n", "\r\n")))
		require.NoError(t, err)
		return m.(*sip.Response)
	}
	ours := "Via: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK-edge\n"
	for _, tc := range []struct {
		name, vias string
		ok         bool
	}{
		{"the requester's Via", ours + "Via: SIP/2.0/UDP 127.0.0.1:7000;branch=z9hG4bK-1\n", true},
		{"received and rport aimed elsewhere", ours + "Via: SIP/2.0/UDP 127.0.0.1:7000;branch=z9hG4bK-1;received=127.0.0.99;rport=53\n", true},
		{"a Via of another transaction", ours + "Via: SIP/2.0/UDP 127.0.0.99:53;branch=z9hG4bK-other\n", false},
		{"no Via below ours", ours, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, ok := relayed(parse(tc.vias), req)
			require.Equal(t, tc.ok, ok)
			if ok {
				require.Equal(t, "127.0.0.2:5070", out.Destination())
				require.Len(t, out.GetHeaders("via"), 1, "our Via is removed")
			}
		})
	}
}
