package e2e

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// sipWS is a SIP phone over a real WebSocket (RFC 7118), the way JsSIP and
// SIP.js talk to /v1/sip: one SIP message per text frame.
type sipWS struct {
	t    *testing.T
	conn *websocket.Conn
	msgs chan sip.Message // everything the server sends, but CANCELs
}

// sipWSURL is ws://…/v1/sip, or wss:// when the server has TLS.
func sipWSURL(s *harness.Server) string {
	return strings.Replace(s.URL(), "http", "ws", 1) + "/v1/sip"
}

// startSIPWS starts a server, with HTTPS (so WSS) when secure, and
// connects a SIP phone to its /v1/sip.
func startSIPWS(t *testing.T, secure bool) (*harness.Server, *sipWS) {
	t.Helper()
	var mutate func(*config.Config)
	if secure {
		cert, key := selfSigned(t)
		mutate = func(c *config.Config) { c.TLS.CertFile, c.TLS.KeyFile = cert, key }
	}
	s := harness.Start(t, mutate)
	return s, dialSIPWS(t, s)
}

func dialSIPWS(t *testing.T, s *harness.Server) *sipWS {
	t.Helper()
	return dialSIPWSURL(t, sipWSURL(s))
}

// dialSIPWSURL connects a SIP phone over WebSocket to url.
func dialSIPWSURL(t *testing.T, url string) *sipWS {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	opts := &websocket.DialOptions{Subprotocols: []string{"sip"}, HTTPClient: &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}} // the test's self-signed certificate
	c, resp, err := websocket.Dial(ctx, url, opts)
	require.NoError(t, err)
	require.Equal(t, "sip", c.Subprotocol())
	require.Equal(t, "sip", resp.Header.Get("Sec-WebSocket-Protocol"))
	w := &sipWS{t: t, conn: c, msgs: make(chan sip.Message, 16)}
	done := make(chan struct{})
	go w.readLoop(done)
	t.Cleanup(func() {
		_ = c.CloseNow()
		<-done
	})
	return w
}

// readLoop parses the server's frames into msgs. It answers CANCELs itself
// (200): the server CANCELs a ringing INVITE when the call ends, even one
// the phone already declined, and would wait for the answer on shutdown.
func (w *sipWS) readLoop(done chan struct{}) {
	defer close(done)
	defer close(w.msgs)
	for {
		typ, data, err := w.conn.Read(context.Background())
		if err != nil {
			return
		}
		msg, err := sip.ParseMessage(data)
		if typ != websocket.MessageText || err != nil {
			w.t.Errorf("bad frame from the server (%v): %q", err, data)
			return
		}
		if req, ok := msg.(*sip.Request); ok && req.Method == sip.CANCEL {
			res := sip.NewResponseFromRequest(req, 200, "OK", nil)
			_ = w.conn.Write(context.Background(), websocket.MessageText, []byte(res.String()))
			continue
		}
		w.msgs <- msg
	}
}

func (w *sipWS) send(msg string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(w.t, w.conn.Write(ctx, websocket.MessageText, []byte(msg)))
}

// read returns the next SIP message the server sends.
func (w *sipWS) read() sip.Message {
	w.t.Helper()
	select {
	case msg, ok := <-w.msgs:
		require.True(w.t, ok, "socket closed")
		return msg
	case <-time.After(10 * time.Second):
		w.t.Fatal("no SIP message from the server")
		return nil
	}
}

// register sends a REGISTER for user's contact (a JsSIP-like .invalid host)
// with the given Authorization (may be empty) and returns the response.
func (w *sipWS) register(user store.User, cseq int, auth string) *sip.Response {
	w.t.Helper()
	msg := "REGISTER sip:127.0.0.1 SIP/2.0\r\n" +
		"Via: SIP/2.0/WS k3b9q1.invalid;branch=z9hG4bK" + sip.GenerateTagN(10) + "\r\n" +
		"Max-Forwards: 70\r\n" +
		"To: <sip:" + user.SIPUsername + "@127.0.0.1>\r\n" +
		"From: <sip:" + user.SIPUsername + "@127.0.0.1>;tag=wsreg1\r\n" +
		"Call-ID: wsreg-" + user.SIPUsername + "\r\n" +
		"CSeq: " + strconv.Itoa(cseq) + " REGISTER\r\n" +
		"Contact: <sip:x7pw2k@k3b9q1.invalid;transport=ws>;+sip.ice;expires=300\r\n" +
		"Expires: 300\r\n"
	if auth != "" {
		msg += "Authorization: " + auth + "\r\n"
	}
	w.send(msg + "Content-Length: 0\r\n\r\n")
	res, ok := w.read().(*sip.Response)
	require.True(w.t, ok, "want a response to REGISTER")
	return res
}

// registerWS registers user over w with digest auth: 401, then 200.
func registerWS(t *testing.T, w *sipWS, user store.User) {
	t.Helper()
	res := w.register(user, 1, "")
	require.Equal(t, 401, res.StatusCode)
	chal, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
	require.NoError(t, err)
	creds, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:127.0.0.1",
		Username: user.SIPUsername, Password: user.SIPPassword, Count: 1})
	require.NoError(t, err)
	res = w.register(user, 2, creds.String())
	require.Equal(t, 200, res.StatusCode)
	require.Contains(t, res.GetHeader("Contact").Value(), "x7pw2k@k3b9q1.invalid")
}

func TestSIPWSRegister(t *testing.T) {
	for _, tt := range []struct {
		name      string
		secure    bool
		transport string
	}{{"ws", false, "ws"}, {"wss", true, "wss"}} {
		t.Run(tt.name, func(t *testing.T) {
			s, w := startSIPWS(t, tt.secure)
			var carol *watcher // presence over plain ws only (the watcher has no TLS trust)
			if !tt.secure {
				carol = newWatcher(t, s, s.Carol)
				carol.subscribe("p1", string(s.Alice.ID))
			}
			registerWS(t, w, s.Alice)
			if carol != nil {
				carol.until(s.Alice, protocol.PresenceAvailable) // a registered tab is a device
			}
			contacts := s.SIP.Registrar.Contacts(s.Alice.ID)
			require.Len(t, contacts, 1)
			require.Equal(t, tt.transport, contacts[0].Transport)
			require.Equal(t, "sip:x7pw2k@k3b9q1.invalid;transport=ws", contacts[0].URI)
			// The tab goes away: its binding goes with its WebSocket.
			require.NoError(t, w.conn.CloseNow())
			harness.CheckFor(t, 5*time.Second, func() error {
				if n := len(s.SIP.Registrar.Contacts(s.Alice.ID)); n != 0 {
					return strErr("binding kept after its WebSocket closed")
				}
				return nil
			})
			if carol != nil {
				carol.until(s.Alice, protocol.PresenceOffline) // and presence follows
			}
		})
	}
}

func TestSIPWSRefusesUpgradeWithoutSubprotocol(t *testing.T) {
	s := harness.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, protos := range [][]string{nil, {"dialstack.webrtc.v1"}} {
		_, resp, err := websocket.Dial(ctx, sipWSURL(s), &websocket.DialOptions{Subprotocols: protos})
		require.Error(t, err)
		require.NotNil(t, resp, "no HTTP response for %v", protos)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		body, _ := io.ReadAll(resp.Body)
		require.Contains(t, string(body), `subprotocol "sip"`)
	}
	// A plain GET is told to upgrade.
	resp, err := http.Get(s.URL() + "/v1/sip")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusUpgradeRequired, resp.StatusCode)
	require.Equal(t, "websocket", resp.Header.Get("Upgrade"))
}

// TestSIPWSRingsRegisteredBrowser calls a phone registered over WebSocket:
// the INVITE comes down the phone's own WebSocket (its Contact host is a
// .invalid name nobody can resolve) and offers WebRTC media (ICE,
// DTLS-SRTP), as a browser needs. The phone is busy: the caller hears so.
// Over WSS the caller is a baresip desk phone (the softphone package has
// no way to trust the test's self-signed certificate).
func TestSIPWSRingsRegisteredBrowser(t *testing.T) {
	for _, tt := range []struct {
		name   string
		secure bool
		via    string
	}{{"ws", false, "WS"}, {"wss", true, "WSS"}} {
		t.Run(tt.name, func(t *testing.T) {
			s, w := startSIPWS(t, tt.secure)
			registerWS(t, w, s.Alice)
			var out *softphone.Call
			var desk *harness.Baresip
			if tt.secure {
				desk = harness.StartBaresip(t, harness.BaresipOptions{User: "102", Password: "bob-sip-pass", Registrar: s.SIP.Addr()})
				registered(t, s, s.Bob, 1)
				desk.Command(t, "dial", "sip:101@"+s.SIP.Addr())
			} else {
				out = dial(t, s.Phone(t, s.Bob, 1000, ""), "101")
			}

			inv, ok := w.read().(*sip.Request)
			require.True(t, ok)
			require.Equal(t, sip.INVITE, inv.Method)
			require.Equal(t, "x7pw2k", inv.Recipient.User)
			require.Equal(t, "k3b9q1.invalid", inv.Recipient.Host)
			require.Equal(t, tt.via, inv.Via().Transport)
			sdp := string(inv.Body())
			for _, want := range []string{"UDP/TLS/RTP/SAVPF", "a=fingerprint:", "a=ice-ufrag:", "a=candidate:"} {
				require.Contains(t, sdp, want)
			}
			require.Equal(t, "102", inv.From().Address.User)

			// No 180 first: sipgo handles each message on its own goroutine, so a
			// 180 sent right before the 486 may arrive after the transaction ended.
			busy := sip.NewResponseFromRequest(inv, 486, "Busy Here", nil)
			busy.To().Params.Add("tag", "wsbusy1")
			w.send(busy.String())
			ack, ok := w.read().(*sip.Request)
			require.True(t, ok)
			require.Equal(t, sip.ACK, ack.Method) // the 486 was received, over the same socket
			if out != nil {
				harness.WaitEnded(t, out, protocol.EndBusy)
				return
			}
			desk.WaitPrinted(t, "486 Busy Here", "the desk phone was not told busy")
		})
	}
}
