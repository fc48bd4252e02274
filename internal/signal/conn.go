package signal

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-voice/switchboard/internal/auth"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// conn is one WebSocket. Only the writer goroutine writes data frames; the
// reader is the HTTP handler's goroutine; a pinger checks liveness.
type conn struct {
	hub *Hub
	ws  *websocket.Conn
	// remote is the socket's source address (emergency address binding).
	remote netip.Addr
	// userAgent is the upgrade request's User-Agent (devices.go).
	userAgent string

	ctx    context.Context
	cancel context.CancelFunc
	out    chan []byte
	fatalc chan *protocol.Error
	failed atomic.Bool
	wdone  chan struct{} // closed when the writer has stopped
	// wrote gets a token each time the writer sends a frame; the reader
	// waits on it while the queue is over half full (see waitRoom).
	wrote   chan struct{}
	stalled bool // reader only: the writer made no progress in stallTimeout and has not caught up since
	// quality: the client asked for call.quality frames (authenticate
	// features); set before the socket joins a session, then read only.
	quality bool
	// recording: the client asked for call.recording notices it did
	// not request (recording.go); set like quality.
	recording bool

	mu      sync.Mutex
	session *Session
	expiry  *time.Timer
}

// ServeHTTP upgrades /v1/webrtc and runs the socket until it closes.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	proto := pickSubprotocol(r.Header.Values("Sec-WebSocket-Protocol"))
	if proto == "" {
		http.Error(w, `{"error":"offer subprotocol `+protocol.Subprotocol+`","code":"unsupported_subprotocol"}`, http.StatusBadRequest)
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:       []string{proto},
		InsecureSkipVerify: true, // the server's origin policy (http.cors_origins) has checked Origin
	})
	if err != nil {
		return // Accept has answered the HTTP request
	}
	ws.SetReadLimit(int64(h.cfg.MaxFrameBytes) + 1)
	// The request's values (the connection's authenticated mark) without its
	// cancellation: the socket outlives the handler's request.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	c := &conn{hub: h, ws: ws, ctx: ctx, cancel: cancel, remote: remoteIP(r), userAgent: clip(r.UserAgent()),
		out: make(chan []byte, h.cfg.WriteQueue), fatalc: make(chan *protocol.Error, 1),
		wdone: make(chan struct{}), wrote: make(chan struct{}, 1)}
	if !h.addConn(c) {
		cancel()
		_ = ws.Close(websocket.StatusGoingAway, "server is shutting down")
		return
	}
	go func() { defer h.wg.Done(); c.writeLoop() }()
	go func() { defer h.wg.Done(); c.pingLoop() }()
	defer h.wg.Done()
	c.readLoop()
}

func pickSubprotocol(offered []string) string {
	for _, header := range offered {
		for _, p := range strings.Split(header, ",") {
			switch p = strings.TrimSpace(p); p {
			case protocol.Subprotocol, protocol.SubprotocolAlias:
				return p
			}
		}
	}
	return ""
}

func (c *conn) setSession(s *Session) {
	c.mu.Lock()
	c.session = s
	c.mu.Unlock()
}

func (c *conn) getSession() *Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.session
}

// enqueue hands a frame to the writer, or fails the socket as a slow consumer.
func (c *conn) enqueue(frame []byte) {
	select {
	case <-c.ctx.Done():
	case c.out <- frame:
	default:
		c.fail(fatal(protocol.CodeSlowConsumer, "client is not reading its frames"))
	}
}

func (c *conn) send(msg protocol.Message) {
	frame, err := protocol.Encode(msg)
	if err != nil {
		c.hub.log.Error("encode frame", "type", msg.MessageType(), "err", err)
		return
	}
	c.enqueue(frame)
}

// fail makes the writer send e (the first fatal error wins) and close.
func (c *conn) fail(e *protocol.Error) {
	c.failed.Store(true)
	select {
	case c.fatalc <- e:
	default:
	}
}

func (c *conn) readLoop() {
	defer c.finish()
	s := c.authenticate()
	if s == nil {
		return
	}
	for {
		data, err := c.readFrame()
		if err != nil {
			return
		}
		if data == nil {
			continue
		}
		c.dispatch(s, data)
		c.waitRoom()
	}
}

// stallTimeout is how long the writer may make no progress before the
// reader stops waiting for it (the client is not reading).
const stallTimeout = time.Second

// waitRoom pauses the reader while the outbound queue is over half full
// and the writer is sending: a client that floods requests gets its
// answers at the pace it reads them, with TCP pushing back on its sends,
// instead of a slow_consumer kick for the burst it asked for. A client
// that does not read at all stalls the writer; then the reader goes on,
// and the queue overflows into slow_consumer as before.
func (c *conn) waitRoom() {
	if len(c.out) <= cap(c.out)/2 {
		c.stalled = false // the writer caught up
		return
	}
	if c.stalled || c.failed.Load() {
		return
	}
	t := time.NewTimer(stallTimeout)
	defer t.Stop()
	for len(c.out) > cap(c.out)/2 {
		select {
		case <-c.wrote:
			t.Reset(stallTimeout) // Go 1.23+: no stale tick survives Reset
		case <-t.C:
			c.stalled = true
			return
		case <-c.ctx.Done():
			return
		}
	}
}

// readFrame returns the next text frame, nil for a frame that was answered
// with a non-fatal error, or an error when the socket is done.
func (c *conn) readFrame() ([]byte, error) {
	typ, r, err := c.ws.Reader(c.ctx)
	if err != nil {
		return nil, err
	}
	limit := int64(c.hub.cfg.MaxFrameBytes)
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		c.fail(fatal(protocol.CodeInvalidMessage, "frame exceeds the size limit"))
		return nil, errors.New("frame too large")
	}
	if typ != websocket.MessageText {
		c.send(&protocol.Error{Code: protocol.CodeInvalidMessage, Message: "frames must be JSON text"})
		return nil, nil
	}
	return data, nil
}

// authenticate reads the first frame, which must be a valid authenticate,
// within the auth timeout, and binds a session.
func (c *conn) authenticate() *Session {
	h := c.hub
	// A read context that expires closes the socket (coder/websocket), so
	// the deadline is a timer that fails the socket with a proper error.
	timer := time.AfterFunc(h.cfg.AuthTimeout, func() {
		c.fail(fatal(protocol.CodeAuthFailed, "no authenticate frame in time"))
	})
	defer timer.Stop()
	typ, r, err := c.ws.Reader(c.ctx)
	if err != nil {
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(r, int64(h.cfg.MaxFrameBytes)+1))
	if err != nil || typ != websocket.MessageText || len(data) > h.cfg.MaxFrameBytes {
		c.fail(fatal(protocol.CodeAuthFailed, "the first frame must be authenticate"))
		return nil
	}
	msg, err := protocol.DecodeClient(data)
	am, ok := msg.(*protocol.Authenticate)
	if err != nil || !ok {
		c.fail(fatal(protocol.CodeAuthFailed, "the first frame must be authenticate with a token"))
		return nil
	}
	id, err := h.auth.Verify(c.ctx, am.Token)
	if err != nil {
		e := fatal(protocol.CodeAuthFailed, authMessage(err))
		e.ReqID = am.ReqID
		c.fail(e)
		return nil
	}
	c.quality = am.HasFeature(protocol.FeatureQuality)
	c.recording = am.HasFeature(protocol.FeatureRecording)
	s, how, perr := h.attach(c, id, ident.SessionID(am.SessionID))
	if perr != nil {
		perr.ReqID = am.ReqID
		c.fail(perr)
		return nil
	}
	reconnected := how != fresh
	c.armExpiry(id.ExpiresAt)
	c.send(&protocol.Authenticated{ReqID: am.ReqID, UserID: string(s.UserID),
		AccountID: string(s.AccountID), SessionID: string(s.ID), Reconnected: reconnected})
	// A client that resumes without session_id kept its calls and predates
	// call.restored (DialStack's SDK reports one as an error): it gets the
	// frames it missed instead. Replays come right after authenticated, so
	// that live frames do not overtake them; the emergency binding (a store
	// round trip) comes after.
	switch how {
	case resumedByID:
		h.getHandler().SessionRestored(s)
	case resumedImplicitly:
		s.replayMissed()
	case adoptedImplicitly: // from another node: its calls follow it, quietly
		s.replayMissed()
		h.getHandler().SessionAdopted(s)
	}
	if reconnected {
		s.replayEndings(h.cfg.ReconnectGrace)
		if ws := s.watchSet(); ws != nil {
			ws.resend()
		}
	}
	c.bindEmergency(s, am.EmergencyAddressID)
	h.log.Debug("socket authenticated", "user", s.UserID, "session_id", s.ID, "reconnected", reconnected)
	return s
}

func authMessage(err error) string {
	switch {
	case errors.Is(err, auth.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, auth.ErrTokenRevoked):
		return "token revoked"
	case errors.Is(err, auth.ErrInvalidToken):
		return "invalid token"
	}
	return "token could not be checked"
}

// armExpiry (re)schedules auth_expired at exp.
func (c *conn) armExpiry(exp time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expiry != nil {
		c.expiry.Stop()
	}
	c.expiry = time.AfterFunc(time.Until(exp), func() {
		c.fail(fatal(protocol.CodeAuthExpired, "token expired"))
	})
}

func (c *conn) dispatch(s *Session, data []byte) {
	msg, err := protocol.DecodeClient(data)
	if err != nil {
		var de *protocol.DecodeError
		e := &protocol.Error{Code: protocol.CodeInvalidMessage, Message: err.Error()}
		if errors.As(err, &de) {
			e.ReqID, e.CallID = de.ReqID, de.CallID
		}
		c.send(e)
		return
	}
	switch m := msg.(type) {
	case *protocol.Ping:
		c.send(&protocol.Pong{ReqID: m.ReqID})
	case *protocol.AuthRefresh:
		c.refresh(s, m)
	case *protocol.Authenticate:
		c.send(&protocol.Error{Code: protocol.CodeInvalidMessage, Message: "already authenticated", ReqID: m.ReqID})
	case *protocol.PresenceSubscribe:
		c.hub.presenceSubscribe(s, m)
	default:
		c.hub.getHandler().HandleMessage(s, msg)
	}
}

// refresh swaps in a new token of the same user and moves the expiry.
func (c *conn) refresh(s *Session, m *protocol.AuthRefresh) {
	id, err := c.hub.auth.Verify(c.ctx, m.Token)
	if err == nil && id.UserID != s.UserID {
		err = errors.New("token is for another user")
	}
	if err != nil {
		msg := err.Error()
		if !strings.Contains(msg, "another user") {
			msg = authMessage(err)
		}
		c.send(&protocol.Error{Code: protocol.CodeInvalidMessage, Message: "auth.refresh: " + msg, ReqID: m.ReqID})
		return
	}
	c.armExpiry(id.ExpiresAt)
	c.send(&protocol.AuthRefreshed{ReqID: m.ReqID})
}

func (c *conn) writeLoop() {
	defer close(c.wdone)
	for {
		select {
		case frame := <-c.out:
			if !c.write(frame) {
				c.cancel()
				return
			}
			select {
			case c.wrote <- struct{}{}:
			default:
			}
		case e := <-c.fatalc:
			c.closeWith(e)
			return
		case <-c.ctx.Done():
			_ = c.ws.CloseNow()
			return
		}
	}
}

func (c *conn) write(frame []byte) bool {
	ctx, cancel := context.WithTimeout(c.ctx, c.hub.cfg.WriteTimeout)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, frame) == nil
}

// closeWith flushes queued frames (unless the client is not reading), sends
// the fatal error and closes the socket.
func (c *conn) closeWith(e *protocol.Error) {
	if e.Code != protocol.CodeSlowConsumer {
	drain:
		for {
			select {
			case frame := <-c.out:
				if !c.write(frame) {
					break drain
				}
			default:
				break drain
			}
		}
	}
	if frame, err := protocol.Encode(e); err == nil {
		c.write(frame)
	}
	status := websocket.StatusPolicyViolation
	if e.Code == protocol.CodeGoingAway {
		status = websocket.StatusGoingAway
	}
	_ = c.ws.Close(status, string(e.Code))
	c.cancel()
}

// alive pings the peer and reports whether it answered within d.
func (c *conn) alive(d time.Duration) bool {
	ctx, cancel := context.WithTimeout(c.ctx, d)
	defer cancel()
	return c.ws.Ping(ctx) == nil
}

func (c *conn) pingLoop() {
	t := time.NewTicker(c.hub.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(c.ctx, c.hub.cfg.PongTimeout)
			err := c.ws.Ping(ctx)
			cancel()
			if err != nil && c.ctx.Err() == nil {
				c.fail(fatal(protocol.CodeIdleTimeout, "no pong in time"))
				return
			}
		}
	}
}

// finish runs when the reader stops: the socket is done; the session, if
// any, enters its grace period.
func (c *conn) finish() {
	c.mu.Lock()
	if c.expiry != nil {
		c.expiry.Stop()
	}
	s := c.session
	c.mu.Unlock()
	// A failed socket is closed by the writer once it has sent the error;
	// otherwise the peer went away and the writer just stops.
	if !c.failed.Load() {
		c.cancel()
	}
	select {
	case <-c.wdone:
	case <-time.After(2 * c.hub.cfg.WriteTimeout):
		c.cancel()
	}
	c.hub.removeConn(c)
	if s != nil && s.unbind(c) {
		c.hub.detached(s)
	}
}
