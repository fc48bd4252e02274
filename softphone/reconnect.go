package softphone

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/coder/websocket"

	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// errConnected is what Reconnect returns while the phone has a socket.
var errConnected = errors.New("softphone: still connected")

// link is one signalling socket of a Phone and its reader.
type link struct {
	conn       *websocket.Conn
	down       chan struct{} // closed once the socket is lost
	downOnce   sync.Once
	readerDone chan struct{} // closed when the reader has returned
}

func newLink(conn *websocket.Conn) *link {
	return &link{conn: conn, down: make(chan struct{}), readerDone: make(chan struct{})}
}

func (l *link) markLost() { l.downOnce.Do(func() { close(l.down) }) }

func (l *link) lost() bool {
	select {
	case <-l.down:
		return true
	default:
		return false
	}
}

// lostErr is what an operation on a lost socket returns: Err once the phone
// is finished, ErrClosed while it closes, else ErrDisconnected.
func (p *Phone) lostErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.err != nil:
		return p.err
	case p.closing:
		return ErrClosed
	}
	return ErrDisconnected
}

// dial opens a socket to the configured URL offering protocol.Subprotocol.
func (p *Phone) dial(ctx context.Context) (*websocket.Conn, error) {
	ua := p.cfg.UserAgent
	if ua == "" {
		ua = "switchboard-softphone"
	}
	conn, _, err := websocket.Dial(ctx, p.cfg.URL, &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol},
		HTTPClient: p.cfg.HTTPClient, HTTPHeader: http.Header{"User-Agent": {ua}}})
	if err != nil {
		return nil, fmt.Errorf("softphone: dial %s: %w", p.cfg.URL, err)
	}
	conn.SetReadLimit(1 << 20)
	if conn.Subprotocol() == "" {
		_ = conn.CloseNow()
		return nil, errors.New("softphone: server selected no subprotocol")
	}
	return conn, nil
}

// authenticate sends authenticate on a socket no reader reads yet and reads
// frames itself until authenticated (or an error frame, returned as a
// *ServerError). Frames after authenticated stay unread, for the reader.
func (p *Phone) authenticate(ctx context.Context, conn *websocket.Conn, token, sessionID string) (*protocol.Authenticated, error) {
	data, err := protocol.Encode(protocol.Authenticate{ReqID: p.newReqID(), Token: token, SessionID: sessionID,
		EmergencyAddressID: p.cfg.EmergencyAddressID, Features: p.cfg.Features})
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	err = conn.Write(wctx, websocket.MessageText, data)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("softphone: write authenticate: %w", err)
	}
	for {
		_, data, err := conn.Read(ctx) // a failed read closes the socket: fine here
		if err != nil {
			return nil, fmt.Errorf("softphone: authenticate: %w", err)
		}
		msg, err := protocol.DecodeServer(data)
		if err != nil {
			p.log.Warn("softphone: undecodable frame", "err", err)
			continue
		}
		switch m := msg.(type) {
		case *protocol.Authenticated:
			p.log.Debug("softphone: authenticated", "user", m.UserID, "session_id", m.SessionID, "reconnected", m.Reconnected)
			return m, nil
		case *protocol.Error:
			return nil, serverError(m)
		default:
			p.log.Warn("softphone: frame before authenticated", "type", msg.MessageType())
		}
	}
}

// Connected reports whether the phone has a live socket.
func (p *Phone) Connected() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.link.lost() && p.err == nil && !p.closing
}

// Disconnected is closed when the current socket is lost (DropConnection,
// a network error, the server closing it, a fatal error, Close). After a
// successful Reconnect it returns a new channel.
func (p *Phone) Disconnected() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.link.down
}

// SetToken sets the token later Reconnects authenticate with (for instance
// after an auth.refresh). It does not touch the current socket.
func (p *Phone) SetToken(token string) {
	p.mu.Lock()
	p.token = token
	p.mu.Unlock()
}

// DropConnection closes the socket abruptly, as a network cut would, and
// waits for its reader to stop. Nothing is hung up and nothing else stops:
// every Call keeps its PeerConnection, its media (the Detector keeps
// hearing the far end) and its Events. The phone is disconnected, not
// finished: Done stays open, Err stays nil, sends return ErrDisconnected
// and requests waiting for a reply return ErrDisconnected, until Reconnect.
// A no-op when already disconnected.
func (p *Phone) DropConnection() {
	p.mu.Lock()
	l := p.link
	p.mu.Unlock()
	l.markLost()
	_ = l.conn.CloseNow()
	<-l.readerDone
}

// Reconnect resumes the device session over a new socket: it dials the
// same URL, sends authenticate {token, session_id: SessionID()} and waits
// for authenticated, whose reconnected flag Reconnected then reports. It is
// for a disconnected phone (after DropConnection, or once the server closed
// the socket without a fatal error); while connected it returns an error,
// on a finished phone Err (ErrClosed after Close).
//
// With reconnected: true the session id stays and the calls go on. The
// server then sends call.restored for each live call: those of known calls
// go to the Call's Events, others make new Calls on Restored. Frames it
// replays afterwards are dispatched as usual; a replayed call.ended ends its
// Call. A known call that is neither restored nor ended stays as it is.
//
// With reconnected: false the old session is gone (its grace period is
// over) and the server has hung its calls up: Reconnect ends every live Call
// of the phone as if call.ended {reason: "hangup"} had arrived. Each gets
// a *protocol.CallEnded{CallID, Reason: protocol.EndHangup} on its Events
// (then closed), EndReason reports protocol.EndHangup, and its media is
// torn down before Reconnect returns. SessionID is then the new session's.
//
// An error frame in reply is returned as a *ServerError; the phone stays
// disconnected (Done stays open): retry, or Close. Close interrupts a
// Reconnect under way.
func (p *Phone) Reconnect(ctx context.Context) error { return p.reconnect(ctx, true) }

// ReconnectWithoutSession is Reconnect with an authenticate that names no
// session (the token alone), as clients that keep no session id do
// (DialStack's SDK). The server resumes the session anyway when it is the
// user's only detached session with live calls; it then sends no
// call.restored, and the calls go on as they are.
func (p *Phone) ReconnectWithoutSession(ctx context.Context) error { return p.reconnect(ctx, false) }

func (p *Phone) reconnect(ctx context.Context, withSession bool) error {
	p.mu.Lock()
	switch {
	case p.err != nil:
		err := p.err
		p.mu.Unlock()
		return err
	case p.closing:
		p.mu.Unlock()
		return ErrClosed
	case p.reconnecting:
		p.mu.Unlock()
		return errors.New("softphone: Reconnect already under way")
	case !p.link.lost():
		p.mu.Unlock()
		return errConnected
	}
	p.reconnecting = true
	old, token, sessionID := p.link, p.token, p.sessionID
	p.mu.Unlock()
	if !withSession {
		sessionID = ""
	}
	defer func() {
		p.mu.Lock()
		p.reconnecting = false
		p.mu.Unlock()
	}()
	// Whatever the old socket delivered is dispatched before the new one.
	<-old.readerDone

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(p.ctx, cancel) // Close interrupts
	defer stop()
	conn, err := p.dial(ctx)
	if err == nil {
		var a *protocol.Authenticated
		if a, err = p.authenticate(ctx, conn, token, sessionID); err == nil {
			return p.resume(conn, a)
		}
		_ = conn.CloseNow()
	}
	if p.ctx.Err() != nil {
		return ErrClosed
	}
	return err
}

// resume installs an authenticated socket, starts its reader and, when the
// session was not resumed, ends the old session's calls.
func (p *Phone) resume(conn *websocket.Conn, a *protocol.Authenticated) error {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		_ = conn.CloseNow()
		return ErrClosed
	}
	p.userID, p.sessionID, p.reconnected = a.UserID, a.SessionID, a.Reconnected
	var ended []*Call
	if !a.Reconnected {
		for c := range p.live {
			if c.endLocally(protocol.EndHangup) {
				ended = append(ended, c)
			}
			if c.ID != "" && p.calls[c.ID] == c {
				delete(p.calls, c.ID)
			}
		}
	}
	p.link = newLink(conn)
	p.wg.Add(1)
	go p.readLoop(p.link)
	p.mu.Unlock()
	for _, c := range ended {
		<-c.finished
	}
	return nil
}

// ReconnectTo is Reconnect to url (another node of a cluster) instead of
// the configured URL; later reconnects use url too.
func (p *Phone) ReconnectTo(ctx context.Context, url string) error {
	p.mu.Lock()
	p.cfg.URL = url
	p.mu.Unlock()
	return p.reconnect(ctx, true)
}

// ReconnectToWithoutSession is ReconnectWithoutSession to url (another
// node of a cluster); later reconnects use url too.
func (p *Phone) ReconnectToWithoutSession(ctx context.Context, url string) error {
	p.mu.Lock()
	p.cfg.URL = url
	p.mu.Unlock()
	return p.reconnect(ctx, false)
}
