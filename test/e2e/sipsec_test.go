package e2e

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// These tests send what an attacker sends, byte for byte, over real UDP and
// TCP sockets, and check the server is still up afterwards.

var transports = []string{"udp", "tcp"}

// fill replaces the placeholders of a message template: {via} (transport
// and address of the sender), {server}, {callid}, {branch}.
func fill(tmpl string, c *harness.RawSIP, server, callID string) string {
	return strings.NewReplacer("{via}", c.Transport()+" "+c.LocalAddr(), "{server}", server, "{callid}", callID,
		"{branch}", "z9hG4bK-"+fmt.Sprint(time.Now().UnixNano())).Replace(tmpl)
}

func TestSIPAckWithoutCallIDIsDropped(t *testing.T) {
	s := harness.Start(t, nil)
	for _, network := range transports {
		t.Run(network, func(t *testing.T) {
			c := harness.DialRawSIP(t, network, "127.0.0.1", s.SIP.Addr())
			c.SendMsg(t, fill(`ACK sip:101@{server} SIP/2.0
Via: SIP/2.0/{via};branch={branch}
Max-Forwards: 70
From: <sip:attacker@127.0.0.1>;tag=a
To: <sip:101@{server}>;tag=b
CSeq: 1 ACK

`, c, s.SIP.Addr(), ""))
			c.NoMessage(t, 300*time.Millisecond) // an ACK is never answered
			harness.SIPAlive(t, s.SIP.Addr())
		})
	}
}

func TestSIPMissingHeadersGet400NamingThem(t *testing.T) {
	s := harness.Start(t, nil)
	cases := []struct {
		name, msg, reason string
	}{
		{"INVITE without To", `INVITE sip:101@{server} SIP/2.0
Via: SIP/2.0/{via};branch={branch}
Max-Forwards: 70
From: <sip:attacker@127.0.0.1>;tag=a
Call-ID: {callid}
CSeq: 1 INVITE

`, "Missing To Header"},
		{"BYE without Call-ID", `BYE sip:101@{server} SIP/2.0
Via: SIP/2.0/{via};branch={branch}
Max-Forwards: 70
From: <sip:attacker@127.0.0.1>;tag=a
To: <sip:101@{server}>;tag=b
CSeq: 2 BYE

`, "Missing Call-ID Header"},
		{"INFO without Call-ID", `INFO sip:101@{server} SIP/2.0
Via: SIP/2.0/{via};branch={branch}
Max-Forwards: 70
From: <sip:attacker@127.0.0.1>;tag=a
To: <sip:101@{server}>;tag=b
CSeq: 2 INFO

`, "Missing Call-ID Header"},
		{"REFER without Call-ID", `REFER sip:101@{server} SIP/2.0
Via: SIP/2.0/{via};branch={branch}
Max-Forwards: 70
From: <sip:attacker@127.0.0.1>;tag=a
To: <sip:101@{server}>;tag=b
CSeq: 2 REFER
Refer-To: <sip:102@127.0.0.1>

`, "Missing Call-ID Header"},
		{"INVITE without From", `INVITE sip:101@{server} SIP/2.0
Via: SIP/2.0/{via};branch={branch}
Max-Forwards: 70
To: <sip:101@{server}>
Call-ID: {callid}
CSeq: 1 INVITE

`, "Missing From Header"},
		{"CSeq naming another method", `BYE sip:101@{server} SIP/2.0
Via: SIP/2.0/{via};branch={branch}
Max-Forwards: 70
From: <sip:attacker@127.0.0.1>;tag=a
To: <sip:101@{server}>;tag=b
Call-ID: {callid}
CSeq: 2 INVITE

`, "CSeq Method Does Not Match"},
	}
	for _, network := range transports {
		for _, tc := range cases {
			t.Run(network+"/"+tc.name, func(t *testing.T) {
				c := harness.DialRawSIP(t, network, "127.0.0.1", s.SIP.Addr())
				c.SendMsg(t, fill(tc.msg, c, s.SIP.Addr(), "missing-"+network+"@127.0.0.1"))
				msg, err := c.Read(5 * time.Second)
				require.NoError(t, err)
				res, ok := msg.(*sip.Response)
				require.True(t, ok, "a response, not %s", msg.String())
				require.Equal(t, 400, res.StatusCode)
				require.Equal(t, tc.reason, res.Reason)
			})
		}
	}
	harness.SIPAlive(t, s.SIP.Addr())
}

func TestSIPChallengeIsSentOnce(t *testing.T) {
	s := harness.Start(t, nil)
	c := harness.DialRawSIP(t, "udp", "127.0.0.1", s.SIP.Addr())
	c.SendMsg(t, fill(`INVITE sip:102@{server} SIP/2.0
Via: SIP/2.0/{via};branch={branch}
Max-Forwards: 70
From: <sip:101@{server}>;tag=a
To: <sip:102@{server}>
Call-ID: never-acked@127.0.0.1
CSeq: 1 INVITE
Contact: <sip:101@{via}>
Content-Type: application/sdp

v=0
o=- 1 1 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 9 RTP/AVP 0
`, c, s.SIP.Addr(), ""))
	res := c.Response(t, "never-acked@127.0.0.1", sip.INVITE, 5*time.Second)
	require.Equal(t, 407, res.StatusCode)
	// A transaction-stateful 407 is sent again after 0.5 s, 1.5 s, 3.5 s…
	// until ACKed; a stateless one never is.
	c.NoMessage(t, 1600*time.Millisecond)
	require.Equal(t, 0, s.Calls.Count())
	require.Equal(t, float64(1), metricValue(t, s, `switchboard_sip_responses_total{method="INVITE",status="407"}`))
}

func TestSIPBigRegisterResponseOverUDP(t *testing.T) {
	s := harness.Start(t, nil)
	c := harness.DialRawSIP(t, "udp", "127.0.0.1", s.SIP.Addr())
	var contacts []string
	for i := range 10 {
		contacts = append(contacts, fmt.Sprintf("Contact: <sip:101@127.0.0.1:%d;transport=udp;line=%s>", 6000+i, strings.Repeat("x", 40)))
	}
	register := func(cseq int, auth string) *sip.Response {
		msg := fill(`REGISTER sip:{server} SIP/2.0
Via: SIP/2.0/{via};branch={branch};rport
Max-Forwards: 70
From: <sip:101@{server}>;tag=big
To: <sip:101@{server}>
Call-ID: big-register@127.0.0.1
CSeq: `+fmt.Sprint(cseq)+` REGISTER
`+strings.Join(contacts, "\n")+`
Expires: 600
`+auth+`
`, c, s.SIP.Addr(), "")
		c.SendMsg(t, msg)
		return c.Response(t, "big-register@127.0.0.1", sip.REGISTER, 5*time.Second)
	}
	res := register(1, "")
	require.Equal(t, 401, res.StatusCode)
	chal, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
	require.NoError(t, err)
	creds, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:" + s.SIP.Addr(),
		Username: "101", Password: "alice-sip-pass", Count: 1})
	require.NoError(t, err)
	res = register(2, "Authorization: "+creds.String()+"\n")
	require.Equal(t, 200, res.StatusCode, "the 200 reaches the phone")
	require.LessOrEqual(t, len(res.String()), 1300, "and fits a UDP datagram without fragments")
	require.NotEmpty(t, res.GetHeaders("Contact"))
	require.Len(t, s.SIP.Registrar.Contacts(s.Alice.ID), 10, "every contact is bound")
}

func TestSIPJunkDatagramsAreCounted(t *testing.T) {
	s := harness.Start(t, nil)
	c := harness.DialRawSIP(t, "udp", "127.0.0.1", s.SIP.Addr())
	junk := make([]byte, 10<<10)
	for i := range junk {
		junk[i] = byte(i*7 + 3)
	}
	// In batches the socket buffer holds: the kernel drops what overflows
	// it before the server could count it.
	for sent := 5; sent <= 100; sent += 5 {
		for range 5 {
			c.Send(t, junk)
		}
		harness.CheckFor(t, 5*time.Second, func() error {
			if n := metricValue(t, s, "switchboard_sip_junk_datagrams_total"); n != float64(sent) {
				return fmt.Errorf("%v junk datagrams counted, %d sent", n, sent)
			}
			return nil
		})
	}
	harness.SIPAlive(t, s.SIP.Addr())
}

// trunkCall sets up a call from a "trunk" at 127.0.0.1 (raw UDP) to
// Alice's number, answered by her softphone; it returns the trunk's
// connection and the dialog's Call-ID and tags.
func trunkCall(t *testing.T, s *harness.Server) (trunk *harness.RawSIP, callID, fromTag, toTag string) {
	t.Helper()
	alice := s.Phone(t, s.Alice, 600, "")
	trunk = harness.DialRawSIP(t, "udp", "127.0.0.1", s.SIP.Addr())
	trustRawTrunk(t, s, trunk)
	callID, fromTag = "live-call@127.0.0.1", "trunk-tag"
	trunk.SendMsg(t, fill(`INVITE sip:`+did+`@{server} SIP/2.0
Via: SIP/2.0/{via};branch={branch}
Max-Forwards: 70
From: <sip:+15105550123@127.0.0.1>;tag=`+fromTag+`
To: <sip:`+did+`@{server}>
Call-ID: `+callID+`
CSeq: 1 INVITE
Contact: <sip:carrier@{via}>
Content-Type: application/sdp

v=0
o=- 1 1 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 9 RTP/AVP 0
a=sendrecv
`, trunk, s.SIP.Addr(), ""))
	in := harness.NextIncoming(t, alice)
	answer(t, in)
	res := trunk.Response(t, callID, sip.INVITE, 10*time.Second)
	require.Equal(t, 200, res.StatusCode)
	toTag, _ = res.To().Params.Get("tag")
	trunk.SendMsg(t, fill(`ACK sip:switchboard@{server} SIP/2.0
Via: SIP/2.0/{via};branch={branch}
Max-Forwards: 70
From: <sip:+15105550123@127.0.0.1>;tag=`+fromTag+`
To: <sip:`+did+`@{server}>;tag=`+toTag+`
Call-ID: `+callID+`
CSeq: 1 ACK

`, trunk, s.SIP.Addr(), ""))
	harness.Wait(t, in, protocol.TypeCallAnswered)
	return trunk, callID, fromTag, toTag
}

func TestSIPDialogCannotBeHijacked(t *testing.T) {
	s := startWithTrunks(t, config.Trunk{Name: "carrier", Host: "127.0.0.1", Port: 9})
	trunk, callID, fromTag, toTag := trunkCall(t, s)
	inDialog := func(method, from, to string) string {
		body, ctype := "", ""
		if method == "INVITE" {
			ctype = "Content-Type: application/sdp\n"
			body = "v=0\no=- 2 2 IN IP4 127.0.0.9\ns=-\nc=IN IP4 127.0.0.9\nt=0 0\nm=audio 4000 RTP/AVP 0\na=sendrecv\n"
		}
		return `` + method + ` sip:switchboard@{server} SIP/2.0
Via: SIP/2.0/{via};branch={branch}
Max-Forwards: 70
From: <sip:+15105550123@127.0.0.1>;tag=` + from + `
To: <sip:` + did + `@{server}>;tag=` + to + `
Call-ID: {callid}
CSeq: 5 ` + method + `
Contact: <sip:x@{via}>
` + ctype + `
` + body
	}
	attacks := []struct {
		name, from, to, src string
	}{
		{"made-up tags from another address", "guess1", "guess2", "127.0.0.9"},
		{"made-up tags from the trunk's address", "guess1", "guess2", "127.0.0.1"},
		{"the right tags from another address", fromTag, toTag, "127.0.0.9"},
		{"tags swapped", toTag, fromTag, "127.0.0.1"},
	}
	for _, network := range transports {
		for _, a := range attacks {
			for _, method := range []string{"INVITE", "BYE", "INFO", "REFER"} {
				t.Run(network+"/"+method+"/"+a.name, func(t *testing.T) {
					c := harness.DialRawSIP(t, network, a.src, s.SIP.Addr())
					c.SendMsg(t, fill(inDialog(method, a.from, a.to), c, s.SIP.Addr(), callID))
					res := c.Response(t, callID, sip.RequestMethod(method), 5*time.Second)
					require.Equal(t, 481, res.StatusCode)
				})
			}
		}
	}
	require.Equal(t, 1, s.Calls.Count(), "the call is still up")
	// The trunk itself ends the call.
	trunk.SendMsg(t, fill(inDialog("BYE", fromTag, toTag), trunk, s.SIP.Addr(), callID))
	require.Equal(t, 200, trunk.Response(t, callID, sip.BYE, 5*time.Second).StatusCode)
	harness.CheckFor(t, 5*time.Second, func() error {
		if s.Calls.Count() != 0 {
			return strErr("the call did not end")
		}
		return nil
	})
}

// authorized sends req (a template with {auth}) from c: first without
// credentials, then answering the challenge; it returns the final
// response and the Authorization header value it used.
func authorized(t *testing.T, c *harness.RawSIP, s *harness.Server, tmpl, callID string, method sip.RequestMethod, user, pass string) (*sip.Response, string) {
	t.Helper()
	c.SendMsg(t, strings.Replace(fill(tmpl, c, s.SIP.Addr(), callID), "{auth}\n", "", 1))
	res := c.Response(t, callID, method, 5*time.Second)
	require.Contains(t, []int{401, 407}, res.StatusCode)
	name, header := "WWW-Authenticate", "Authorization"
	if res.StatusCode == 407 {
		name, header = "Proxy-Authenticate", "Proxy-Authorization"
	}
	chal, err := digest.ParseChallenge(res.GetHeader(name).Value())
	require.NoError(t, err)
	creds, err := digest.Digest(chal, digest.Options{Method: string(method), URI: "sip:" + s.SIP.Addr(),
		Username: user, Password: pass, Count: 1})
	require.NoError(t, err)
	auth := header + ": " + creds.String()
	c.SendMsg(t, strings.Replace(strings.Replace(fill(tmpl, c, s.SIP.Addr(), callID), "{auth}", auth, 1), "CSeq: 1 ", "CSeq: 2 ", 1))
	return c.Response(t, callID, method, 5*time.Second), auth
}

const registerTmpl = `REGISTER sip:{server} SIP/2.0
Via: SIP/2.0/{via};branch={branch};rport
Max-Forwards: 70
From: <sip:101@{server}>;tag=reg
To: <sip:101@{server}>
Call-ID: {callid}
CSeq: 1 REGISTER
Contact: <sip:101@{via}>
Expires: 600
{auth}

`

func TestSIPReplayedRegisterIsChallenged(t *testing.T) {
	s := harness.Start(t, nil)
	for _, network := range transports {
		t.Run(network, func(t *testing.T) {
			phone := harness.DialRawSIP(t, network, "127.0.0.1", s.SIP.Addr())
			callID := "replay-reg-" + network + "@127.0.0.1"
			res, auth := authorized(t, phone, s, registerTmpl, callID, sip.REGISTER, "101", "alice-sip-pass")
			require.Equal(t, 200, res.StatusCode)
			before := s.SIP.Registrar.Contacts(s.Alice.ID)

			// The attacker replays the captured REGISTER with its own Contact,
			// from another address and then from the phone's own.
			for _, src := range []string{"127.0.0.7", "127.0.0.1"} {
				attacker := harness.DialRawSIP(t, network, src, s.SIP.Addr())
				msg := strings.Replace(fill(registerTmpl, attacker, s.SIP.Addr(), callID), "{auth}", auth, 1)
				attacker.SendMsg(t, strings.Replace(msg, "CSeq: 1 ", "CSeq: 3 ", 1))
				res := attacker.Response(t, callID, sip.REGISTER, 5*time.Second)
				require.Equal(t, 401, res.StatusCode, "a replay from %s gets a fresh challenge", src)
				chal, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
				require.NoError(t, err)
				require.False(t, chal.Stale, "the nonce did not merely expire")
			}
			require.Equal(t, before, s.SIP.Registrar.Contacts(s.Alice.ID), "no binding changed")
		})
	}
	harness.SIPAlive(t, s.SIP.Addr())
}

func TestSIPReplayedInviteIsChallenged(t *testing.T) {
	s := harness.Start(t, nil)
	const invite = `INVITE sip:*43@{server} SIP/2.0
Via: SIP/2.0/{via};branch={branch};rport
Max-Forwards: 70
From: <sip:101@{server}>;tag=replay
To: <sip:*43@{server}>
Call-ID: {callid}
CSeq: 1 INVITE
Contact: <sip:101@{via}>
Content-Type: application/sdp
{auth}

v=0
o=- 1 1 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 9 RTP/AVP 0
a=sendrecv
`
	phone := harness.DialRawSIP(t, "udp", "127.0.0.1", s.SIP.Addr())
	res, auth := authorized(t, phone, s, invite, "replay-inv@127.0.0.1", sip.INVITE, "101", "alice-sip-pass")
	require.Equal(t, 200, res.StatusCode, "the echo test answers")
	require.Equal(t, 1, s.Calls.Count())

	for _, src := range []string{"127.0.0.7", "127.0.0.1"} {
		attacker := harness.DialRawSIP(t, "udp", src, s.SIP.Addr())
		callID := "replayed-" + src + "@127.0.0.1"
		attacker.SendMsg(t, strings.Replace(fill(invite, attacker, s.SIP.Addr(), callID), "{auth}", auth, 1))
		res := attacker.Response(t, callID, sip.INVITE, 5*time.Second)
		require.Equal(t, 407, res.StatusCode, "a replayed INVITE from %s gets a fresh challenge", src)
	}
	require.Equal(t, 1, s.Calls.Count(), "no second call was placed")
}

func TestSIPResponsesNeverDialTheVia(t *testing.T) {
	s := harness.Start(t, nil)
	victim, err := net.Listen("tcp", "127.0.0.5:0")
	require.NoError(t, err)
	defer victim.Close()
	dialled := make(chan net.Conn, 100)
	go func() {
		for {
			c, err := victim.Accept()
			if err != nil {
				return
			}
			dialled <- c
		}
	}()
	// Requests over TCP whose connection is reset right after sending: the
	// response has nowhere to go, and must not go to the Via.
	for i := range 50 {
		c, err := net.DialTCP("tcp", &net.TCPAddr{IP: net.ParseIP("127.0.0.1")}, mustTCPAddr(t, s.SIP.Addr()))
		require.NoError(t, err)
		callID := fmt.Sprintf("gone-%d@127.0.0.1", i)
		_, err = c.Write(harness.BuildSIP(`OPTIONS sip:` + s.SIP.Addr() + ` SIP/2.0
Via: SIP/2.0/TCP ` + victim.Addr().String() + `;branch=z9hG4bK-gone-` + fmt.Sprint(i) + `
Max-Forwards: 70
From: <sip:probe@127.0.0.1>;tag=g
To: <sip:` + s.SIP.Addr() + `>
Call-ID: ` + callID + `
CSeq: 1 OPTIONS

`))
		require.NoError(t, err)
		require.NoError(t, c.SetLinger(0))
		require.NoError(t, c.Close()) // RST
	}
	harness.SIPAlive(t, s.SIP.Addr()) // every request above has been handled by now
	select {
	case c := <-dialled:
		c.Close()
		t.Fatal("the server opened a connection to the host named in a Via")
	case <-time.After(500 * time.Millisecond):
	}
}

func mustTCPAddr(t *testing.T, addr string) *net.TCPAddr {
	t.Helper()
	a, err := net.ResolveTCPAddr("tcp", addr)
	require.NoError(t, err)
	return a
}

// metricValue reads one series from /metrics (name, with its labels).
func metricValue(t *testing.T, s *harness.Server, name string) float64 {
	t.Helper()
	v, ok := metricLookup(t, s, name)
	if !ok {
		t.Fatalf("no metric %s", name)
	}
	return v
}

// metricLookup is metricValue for a series that may not exist yet.
func metricLookup(t *testing.T, s *harness.Server, name string) (float64, bool) {
	t.Helper()
	res := s.Do(t, "GET", "/metrics", harness.AdminKey, nil)
	require.Equal(t, 200, res.Status)
	for _, line := range strings.Split(string(res.Raw), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			_, err := fmt.Sscan(v, &f)
			require.NoError(t, err)
			return f, true
		}
	}
	return 0, false
}
