package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// blfPhone is a desk phone's BLF side over one TCP connection: it
// registers, subscribes to the dialog event package and answers every
// NOTIFY with 200, noting when each arrived.
type blfPhone struct {
	t        *testing.T
	c        *harness.RawSIP
	server   string
	user     string
	password string
	results  chan *sip.Response
	notifies chan arrived
	backlog  []arrived // NOTIFYs of other dialogs, seen while waiting for one
	cseq     int
}

type arrived struct {
	req *sip.Request
	at  time.Time
}

func newBLFPhone(t *testing.T, server, user, password string) *blfPhone {
	p := &blfPhone{t: t, c: harness.DialRawSIP(t, "tcp", "127.0.0.1", server), server: server, user: user,
		password: password, results: make(chan *sip.Response, 16), notifies: make(chan arrived, 64)}
	done := make(chan struct{})
	go p.read(done)
	t.Cleanup(func() { p.c.Close(); <-done })
	return p
}

func (p *blfPhone) read(done chan struct{}) {
	defer close(done)
	for {
		msg, err := p.c.Read(time.Minute)
		if err != nil {
			return
		}
		at := time.Now()
		switch m := msg.(type) {
		case *sip.Response:
			p.results <- m
		case *sip.Request:
			if m.Method != sip.NOTIFY {
				continue
			}
			_ = p.c.Write([]byte(sip.NewResponseFromRequest(m, 200, "OK", nil).String()))
			p.notifies <- arrived{m, at}
		}
	}
}

// request sends method to uri in the dialog (callID, tags), answering a
// 401 once, and returns the final response.
func (p *blfPhone) request(method, uri, callID, fromTag, toTag, extra string) *sip.Response {
	p.t.Helper()
	var auth string
	for try := 0; ; try++ {
		p.cseq++
		to := "<" + uri + ">"
		if method == "REGISTER" {
			to = "<sip:" + p.user + "@127.0.0.1>" // the AOR
		}
		if toTag != "" {
			to += ";tag=" + toTag
		}
		local := p.c.LocalAddr()
		p.c.SendMsg(p.t, fmt.Sprintf(`%s %s SIP/2.0
Via: SIP/2.0/TCP %s;branch=z9hG4bK-%s
Max-Forwards: 70
From: <sip:%s@127.0.0.1>;tag=%s
To: %s
Call-ID: %s
CSeq: %d %s
Contact: <sip:%s@%s;transport=tcp>
%s%s
`, method, uri, local, ident.Short(), p.user, fromTag, to, callID, p.cseq, method, p.user, local, auth, extra))
		res := p.response(callID)
		if res.StatusCode != 401 || try > 0 {
			return res
		}
		chal, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
		require.NoError(p.t, err)
		creds, err := digest.Digest(chal, digest.Options{Method: method, URI: uri, Username: p.user,
			Password: p.password, Count: 1})
		require.NoError(p.t, err)
		auth = "Authorization: " + creds.String() + "\n"
	}
}

func (p *blfPhone) response(callID string) *sip.Response {
	p.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case res := <-p.results:
			if res.CallID().Value() == callID && int(res.CSeq().SeqNo) == p.cseq && res.StatusCode >= 200 {
				return res
			}
		case <-deadline:
			p.t.Fatalf("no response in %s", callID)
		}
	}
}

// notifyWith waits for a NOTIFY in dialog callID whose body contains all
// of want, skipping others (presence changes that are not the one
// awaited).
func (p *blfPhone) notifyWith(callID string, want ...string) arrived {
	p.t.Helper()
	match := func(n arrived) bool {
		for _, w := range want {
			if !strings.Contains(string(n.req.Body())+"\n"+n.req.String(), w) {
				return false
			}
		}
		return true
	}
	var keep []arrived
	defer func() { p.backlog = append(keep, p.backlog...) }()
	for len(p.backlog) > 0 {
		n := p.backlog[0]
		p.backlog = p.backlog[1:]
		switch {
		case n.req.CallID().Value() != callID:
			keep = append(keep, n)
		case match(n):
			return n
		}
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case n := <-p.notifies:
			switch {
			case n.req.CallID().Value() != callID:
				keep = append(keep, n)
			case match(n):
				return n
			}
		case <-deadline:
			p.t.Fatalf("no NOTIFY in %s with %q", callID, want)
		}
	}
}

// subscribe subscribes to ext's dialogs and returns the dialog's Call-ID
// once the first NOTIFY (full state) is in.
func (p *blfPhone) subscribe(ext string) (callID, fromTag, toTag string) {
	p.t.Helper()
	callID, fromTag = "blf-"+ident.Short()+"@127.0.0.1", "b"+ident.Short()
	res := p.request("SUBSCRIBE", "sip:"+ext+"@127.0.0.1", callID, fromTag, "",
		"Event: dialog\nAccept: application/dialog-info+xml\nExpires: 600\n")
	require.Equal(p.t, 200, res.StatusCode, res.String())
	toTag, _ = res.To().Params.Get("tag")
	p.notifyWith(callID, `entity="sip:`+ext+`@127.0.0.1"`, "Subscription-State: active")
	return callID, fromTag, toTag
}

// TestBLFDialogStates: a desk phone (raw SIP over TCP, registered as
// Carol) watches Bob's and Alice's BLF keys while Alice calls Bob from a
// browser; the NOTIFYs go early (ringing), confirmed (answered),
// terminated (hung up), each within 200 ms.
func TestBLFDialogStates(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 880, "")
	carol := newBLFPhone(t, s.SIP.Addr(), s.Carol.SIPUsername, s.Carol.SIPPassword)
	reg := carol.request("REGISTER", "sip:127.0.0.1", "reg-"+ident.Short(), "r1", "",
		"Expires: 600\n")
	require.Equal(t, 200, reg.StatusCode, reg.String())
	bobKey, _, _ := carol.subscribe(s.Bob.Extension)
	aliceKey, fromTag, toTag := carol.subscribe(s.Alice.Extension)

	out, err := alice.Call(harness.Ctx(t, 10*time.Second), s.Bob.Extension)
	require.NoError(t, err)
	in := harness.NextIncoming(t, bob)
	ringing := time.Now()
	early := carol.notifyWith(bobKey, `direction="recipient"><state>early</state>`)
	carol.notifyWith(aliceKey, `direction="initiator"><state>early</state>`)

	require.NoError(t, in.Answer(harness.Ctx(t, 10*time.Second)))
	answered := time.Now()
	confirmed := carol.notifyWith(bobKey, `<state>confirmed</state>`, `<remote><identity>sip:`+s.Alice.Extension+`@`)
	carol.notifyWith(aliceKey, `direction="initiator"><state>confirmed</state>`)
	harness.Wait(t, out, protocol.TypeCallAnswered)

	hangup := time.Now()
	require.NoError(t, out.Hangup())
	terminated := carol.notifyWith(bobKey, `<state>terminated</state>`)
	carol.notifyWith(aliceKey, `<state>terminated</state>`)
	harness.WaitEnded(t, in, protocol.EndHangup)

	lat := func(from time.Time, n arrived) time.Duration { return max(0, n.at.Sub(from)) }
	t.Logf("BLF NOTIFY latency: early %v after call.incoming, confirmed %v after call.answer, terminated %v after call.hangup",
		lat(ringing, early), lat(answered, confirmed), lat(hangup, terminated))
	require.Less(t, lat(ringing, early), presenceLatency)
	require.Less(t, lat(answered, confirmed), presenceLatency)
	require.Less(t, lat(hangup, terminated), presenceLatency)

	// Unsubscribing ends with a terminated NOTIFY.
	res := carol.request("SUBSCRIBE", "sip:"+s.Alice.Extension+"@127.0.0.1", aliceKey, fromTag, toTag,
		"Event: dialog\nExpires: 0\n")
	require.Equal(t, 200, res.StatusCode)
	carol.notifyWith(aliceKey, "Subscription-State: terminated;reason=timeout")
}

// TestBLFRefusals: the server's answers to subscriptions it does not
// take, over a real socket.
func TestBLFRefusals(t *testing.T) {
	s := harness.Start(t, nil)
	p := newBLFPhone(t, s.SIP.Addr(), s.Carol.SIPUsername, s.Carol.SIPPassword)
	sub := func(ext, headers string) *sip.Response {
		return p.request("SUBSCRIBE", "sip:"+ext+"@127.0.0.1", "r-"+ident.Short(), "x"+ident.Short(), "", headers)
	}
	res := sub(s.Bob.Extension, "Event: presence\n")
	require.Equal(t, 489, res.StatusCode)
	require.Equal(t, "dialog", res.GetHeader("Allow-Events").Value())
	require.Equal(t, 404, sub("999", "Event: dialog\n").StatusCode)
	require.Equal(t, 423, sub(s.Bob.Extension, "Event: dialog\nExpires: 10\n").StatusCode)
	require.Equal(t, 406, sub(s.Bob.Extension, "Event: dialog\nAccept: application/pidf+xml\n").StatusCode)
	require.Equal(t, 481, p.request("SUBSCRIBE", "sip:102@127.0.0.1", "r-"+ident.Short(), "x", "nosuch",
		"Event: dialog\n").StatusCode)
}

// TestBLFOverWebSocket: a browser SIP phone (RFC 7118) subscribes over its
// WebSocket, and the NOTIFYs come back over that same socket.
func TestBLFOverWebSocket(t *testing.T) {
	s, w := startSIPWS(t, false)
	registerWS(t, w, s.Carol)
	alice := s.Phone(t, s.Alice, 440, "")
	s.Phone(t, s.Bob, 880, "")
	subscribe := func(cseq int, auth string) *sip.Response {
		msg := "SUBSCRIBE sip:" + s.Bob.Extension + "@127.0.0.1 SIP/2.0\r\n" +
			"Via: SIP/2.0/WS k3b9q1.invalid;branch=z9hG4bK" + sip.GenerateTagN(10) + "\r\n" +
			"Max-Forwards: 70\r\nTo: <sip:" + s.Bob.Extension + "@127.0.0.1>\r\n" +
			"From: <sip:" + s.Carol.SIPUsername + "@127.0.0.1>;tag=wsblf1\r\nCall-ID: wsblf-1\r\n" +
			fmt.Sprintf("CSeq: %d SUBSCRIBE\r\n", cseq) +
			"Contact: <sip:x7pw2k@k3b9q1.invalid;transport=ws>\r\nEvent: dialog\r\nExpires: 300\r\n"
		if auth != "" {
			msg += "Authorization: " + auth + "\r\n"
		}
		w.send(msg + "Content-Length: 0\r\n\r\n")
		for {
			if res, ok := w.read().(*sip.Response); ok && res.CSeq().MethodName == sip.SUBSCRIBE {
				return res
			}
		}
	}
	res := subscribe(1, "")
	require.Equal(t, 401, res.StatusCode)
	chal, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
	require.NoError(t, err)
	creds, err := digest.Digest(chal, digest.Options{Method: "SUBSCRIBE", URI: "sip:" + s.Bob.Extension + "@127.0.0.1",
		Username: s.Carol.SIPUsername, Password: s.Carol.SIPPassword, Count: 1})
	require.NoError(t, err)
	require.Equal(t, 200, subscribe(2, creds.String()).StatusCode)

	notify := func(want string) {
		t.Helper()
		for {
			req, ok := w.read().(*sip.Request)
			if !ok || req.Method != sip.NOTIFY {
				continue
			}
			w.send(sip.NewResponseFromRequest(req, 200, "OK", nil).String())
			require.Equal(t, "x7pw2k@k3b9q1.invalid", req.Recipient.User+"@"+req.Recipient.Host)
			if strings.Contains(string(req.Body()), want) {
				return
			}
		}
	}
	notify(`entity="sip:` + s.Bob.Extension + `@127.0.0.1"`)
	_, err = alice.Call(harness.Ctx(t, 10*time.Second), s.Bob.Extension)
	require.NoError(t, err)
	notify(`<state>early</state>`)
}

// TestBLFSipp: sipp as the desk phone (its own SIP stack and digest),
// checking the NOTIFY bodies go early, confirmed, terminated as a browser
// user is rung, answers and hangs up.
func TestBLFSipp(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 880, "")
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uac_blf.xml", Remote: s.SIP.Addr(), Service: s.Bob.Extension,
		Keys: map[string]string{"user": s.Carol.SIPUsername},
		Args: []string{"-au", s.Carol.SIPUsername, "-ap", s.Carol.SIPPassword}})
	seen := func(what string) {
		t.Helper()
		harness.CheckFor(t, 10*time.Second, func() error {
			if !strings.Contains(sipp.Messages(), what) {
				return fmt.Errorf("sipp has not received %q yet", what)
			}
			return nil
		})
	}
	seen(`entity="sip:` + s.Bob.Extension + `@127.0.0.1"`)
	out, err := alice.Call(harness.Ctx(t, 10*time.Second), s.Bob.Extension)
	require.NoError(t, err)
	in := harness.NextIncoming(t, bob)
	seen("<state>early</state>")
	require.NoError(t, in.Answer(harness.Ctx(t, 10*time.Second)))
	seen("<state>confirmed</state>")
	harness.Wait(t, out, protocol.TypeCallAnswered)
	require.NoError(t, out.Hangup())
	sipp.RequireSuccess(t)
	require.Contains(t, sipp.Messages(), "Subscription-State: terminated;reason=timeout")
}
