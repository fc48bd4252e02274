package sipua

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

// SIP over WebSocket (RFC 7118) on the HTTP listener, for browser SIP
// phones (JsSIP, SIP.js). sipgo's WS transport does the WebSocket upgrade
// itself on a raw connection, so the HTTP handler hijacks the connection
// and hands it, with the request net/http already read replayed in front,
// to a listener sipgo serves. Plain HTTP connections go to sipgo's WS
// transport, HTTPS ones to its WSS transport: registrations then record
// "ws" or "wss", and calls to the phone find its connection by source
// address in that transport's pool (the Contact host, a random
// "….invalid", is never resolved).

// wsSubprotocol is the WebSocket subprotocol of SIP (RFC 7118 §4).
const wsSubprotocol = "sip"

// wsListeners are the listeners sipgo's WS and WSS transports accept from.
type wsListeners struct {
	plain, secure *handoffListener
}

// startWS serves SIP over WebSocket connections handed over by
// WebSocketHandler until stopWS.
func (u *UA) startWS() {
	u.ws = &wsListeners{plain: newHandoffListener(), secure: newHandoffListener()}
	ws := u.ws
	u.goTracked(func() { u.serve("ws", u.srv.ServeWS(ws.plain)) })
	u.goTracked(func() { u.serve("wss", u.srv.ServeWSS(ws.secure)) })
}

// stopWS stops accepting WebSocket connections; the live ones close with
// the transports.
func (u *UA) stopWS() {
	if u.ws != nil {
		u.ws.plain.Close()
		u.ws.secure.Close()
	}
}

// WebSocketHandler serves SIP over WebSocket (RFC 7118): mount it on the
// HTTP listener (at /v1/sip). An upgrade that does not offer the "sip"
// subprotocol is refused with 400, a request that is no WebSocket upgrade
// with 426.
func (u *UA) WebSocketHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !headerHasToken(r.Header, "Connection", "upgrade") ||
			!headerHasToken(r.Header, "Upgrade", "websocket") {
			w.Header().Set("Upgrade", "websocket")
			w.Header().Set("Sec-WebSocket-Protocol", wsSubprotocol)
			http.Error(w, "SIP over WebSocket (RFC 7118): connect with a WebSocket offering the subprotocol \"sip\"", http.StatusUpgradeRequired)
			return
		}
		if !offersSubprotocol(r.Header, wsSubprotocol) {
			http.Error(w, "SIP over WebSocket needs the WebSocket subprotocol \"sip\" (RFC 7118 §4): offer Sec-WebSocket-Protocol: sip", http.StatusBadRequest)
			return
		}
		ws := u.ws
		if ws == nil {
			http.Error(w, "SIP is not running", http.StatusServiceUnavailable)
			return
		}
		hj, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "SIP over WebSocket needs HTTP/1.1", http.StatusHTTPVersionNotSupported)
			return
		}
		conn, rw, err := hj.Hijack()
		if err != nil {
			u.log.Warn("sip ws: hijack", "err", err)
			return
		}
		_ = conn.SetDeadline(time.Time{}) // the HTTP server's header timeout no longer applies
		// sipgo's upgrader reads the request again: replay it, then what
		// net/http had buffered past it, then the connection.
		var extra []byte
		if n := rw.Reader.Buffered(); n > 0 {
			extra, _ = rw.Reader.Peek(n)
		}
		ln, transport := ws.plain, "ws"
		if r.TLS != nil {
			ln, transport = ws.secure, "wss"
		}
		source := conn.RemoteAddr().String()
		c := &replayConn{Conn: conn, r: io.MultiReader(bytes.NewReader(requestHead(r)), bytes.NewReader(extra), conn),
			onClose: func() { u.Registrar.dropFlow(transport, source) }}
		if !ln.hand(c) {
			conn.Close()
		}
	})
}

// requestHead serialises the request line and headers of r as received
// (net/http moves Host out of the header map).
func requestHead(r *http.Request) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", r.Method, r.RequestURI, r.Host)
	_ = r.Header.Write(&b)
	b.WriteString("\r\n")
	return b.Bytes()
}

// offersSubprotocol reports whether the client offers proto (RFC 6455
// §4.1: a comma-separated list, possibly over several header lines;
// subprotocol names are case-sensitive).
func offersSubprotocol(h http.Header, proto string) bool {
	for _, v := range h.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if strings.TrimSpace(p) == proto {
				return true
			}
		}
	}
	return false
}

// headerHasToken reports whether a comma-separated header holds token
// (case-insensitive, as Connection and Upgrade are).
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// replayConn reads from r (the replayed request, then the connection) and
// runs onClose once when sipgo closes it (the phone went away, or shutdown).
type replayConn struct {
	net.Conn
	r       io.Reader
	onClose func()
	once    sync.Once
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *replayConn) Close() error {
	c.once.Do(c.onClose)
	return c.Conn.Close()
}

// dropFlow removes the bindings registered through a WebSocket connection
// that closed: a browser accepts no connections, so its contact is
// unreachable until it connects and registers again. Without this, a call
// would dial the browser's old source address until the binding expired.
// The users who lost a binding are reported to presence (a closed tab is
// no longer a device).
func (g *Registrar) dropFlow(transport, source string) {
	var changed []ident.UserID
	g.mu.Lock()
	for user, cs := range g.bindings {
		var kept []Contact
		for _, c := range cs {
			if c.Transport != transport || c.Source != source {
				kept = append(kept, c)
			}
		}
		if len(kept) != len(cs) {
			changed = append(changed, user)
		}
		g.bindings[user] = kept
	}
	g.mu.Unlock()
	for _, u := range changed {
		g.reportRegistered(u)
	}
}

// handoffListener is a net.Listener whose connections are handed to it
// (by the HTTP handler) instead of accepted from a socket.
type handoffListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandoffListener() *handoffListener {
	return &handoffListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// hand passes c to Accept; it reports false once the listener is closed.
func (l *handoffListener) hand(c net.Conn) bool {
	select {
	case <-l.done:
		return false
	default:
	}
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is a placeholder: the connections come from the HTTP listener.
func (l *handoffListener) Addr() net.Addr { return &net.TCPAddr{} }

// isWebSocket reports whether a SIP transport name is WS or WSS: such a
// party is a browser, whose media is WebRTC (ICE, DTLS-SRTP), not plain RTP.
func isWebSocket(transport string) bool {
	t := sip.NetworkToLower(transport)
	return t == "ws" || t == "wss"
}
