package softphone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// SourceRate is the PCM rate of sources and detectors: 8000 Hz.
const SourceRate = 8000

// writeTimeout bounds one frame write; a socket that cannot take a frame in
// that time is broken.
const writeTimeout = 10 * time.Second

// Channel capacities.
const (
	eventBuffer  = 256 // per call
	phoneBuffer  = 64  // Incoming, Errors, Restored
	noticeBuffer = 256 // Notifications
)

// Config configures a Phone.
type Config struct {
	URL       string // ws://host:port/v1/webrtc
	Token     string
	SessionID string // resume a device session (authenticate.session_id)
	// Codec is the only audio codec this phone offers and accepts:
	// audio.Opus (the default), audio.PCMU or audio.PCMA.
	Codec audio.Codec
	// Source is the initial audio source of new calls; nil means silence.
	// It must produce PCM at SourceRate. Every call of the phone reads from
	// it (reads are serialized); use Call.SetSource for per-call audio.
	Source audio.Source
	Logger *slog.Logger // nil discards
}

// ServerError is an error frame from the server.
type ServerError struct {
	Code    protocol.ErrorCode
	Message string
	ReqID   string
	CallID  string
	Fatal   bool
}

func (e *ServerError) Error() string {
	s := "softphone: server error " + string(e.Code)
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Fatal {
		s += " (fatal)"
	}
	return s
}

func serverError(m *protocol.Error) *ServerError {
	return &ServerError{Code: m.Code, Message: m.Message, ReqID: m.ReqID, CallID: m.CallID,
		Fatal: m.Fatal || m.Code.Fatal()}
}

var (
	// ErrClosed is Err after Close, and what operations on a closed phone return.
	ErrClosed = errors.New("softphone: phone closed")
	// ErrCallEnded is returned by operations on a call that has ended.
	ErrCallEnded = errors.New("softphone: call ended")
	// ErrNoReqID is returned by Request for a message without a ReqID field.
	ErrNoReqID = errors.New("softphone: message has no req_id field")
)

// Phone is one signalling socket (a device session) and its calls.
type Phone struct {
	cfg    Config
	log    *slog.Logger
	spec   codecSpec
	api    *webrtc.API
	source audio.Source // cfg.Source, serialized
	conn   *websocket.Conn

	userID, sessionID string
	reconnected       bool

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wmu    sync.Mutex
	nextID atomic.Uint64

	mu      sync.Mutex
	pending map[string]*pending
	calls   map[string]*Call   // bound calls by id
	live    map[*Call]struct{} // every call not yet torn down
	closing bool
	err     error

	incoming chan *Call
	restored chan *Call
	errs     chan *ServerError
	notices  chan protocol.Message
	done     chan struct{}
	doneOnce sync.Once

	closeOnce sync.Once
	wg        sync.WaitGroup
}

// pending is a request waiting for the frame that echoes its req_id.
type pending struct {
	ch        chan protocol.Message // buffered 1
	call      *Call                 // call.create: bound on call.trying
	abandoned bool                  // the caller gave up (call.create only)
}

// Connect dials cfg.URL offering protocol.Subprotocol, authenticates with
// cfg.Token (and cfg.SessionID, if set) and waits for authenticated. An error
// frame in reply is returned as a *ServerError.
func Connect(ctx context.Context, cfg Config) (*Phone, error) {
	if cfg.Codec == "" {
		cfg.Codec = audio.Opus
	}
	spec, err := specFor(cfg.Codec)
	if err != nil {
		return nil, err
	}
	api, err := newAPI(spec)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	conn, _, err := websocket.Dial(ctx, cfg.URL, &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}})
	if err != nil {
		return nil, fmt.Errorf("softphone: dial %s: %w", cfg.URL, err)
	}
	conn.SetReadLimit(1 << 20)
	if conn.Subprotocol() == "" {
		_ = conn.CloseNow()
		return nil, errors.New("softphone: server selected no subprotocol")
	}
	p := &Phone{
		cfg: cfg, log: log, spec: spec, api: api, conn: conn,
		pending:  map[string]*pending{},
		calls:    map[string]*Call{},
		live:     map[*Call]struct{}{},
		incoming: make(chan *Call, phoneBuffer),
		restored: make(chan *Call, phoneBuffer),
		errs:     make(chan *ServerError, phoneBuffer),
		notices:  make(chan protocol.Message, noticeBuffer),
		done:     make(chan struct{}),
	}
	if cfg.Source != nil {
		p.source = &lockedSource{src: cfg.Source}
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if err := p.authenticate(ctx); err != nil {
		p.cancel()
		_ = conn.CloseNow()
		return nil, err
	}
	p.wg.Add(1)
	go p.readLoop()
	return p, nil
}

// authenticate runs before the reader starts: it reads frames itself.
func (p *Phone) authenticate(ctx context.Context) error {
	err := p.Send(protocol.Authenticate{ReqID: p.newReqID(), Token: p.cfg.Token, SessionID: p.cfg.SessionID})
	if err != nil {
		return err
	}
	for {
		_, data, err := p.conn.Read(ctx) // a failed read closes the socket: fine here
		if err != nil {
			return fmt.Errorf("softphone: authenticate: %w", err)
		}
		msg, err := protocol.DecodeServer(data)
		if err != nil {
			p.log.Warn("softphone: undecodable frame", "err", err)
			continue
		}
		switch m := msg.(type) {
		case *protocol.Authenticated:
			p.userID, p.sessionID, p.reconnected = m.UserID, m.SessionID, m.Reconnected
			p.log.Debug("softphone: authenticated", "user", m.UserID, "session", m.SessionID, "reconnected", m.Reconnected)
			return nil
		case *protocol.Error:
			return serverError(m)
		default:
			p.log.Warn("softphone: frame before authenticated", "type", msg.MessageType())
		}
	}
}

// SessionID is the device session id from authenticated.
func (p *Phone) SessionID() string { return p.sessionID }

// UserID is the authenticated user's id.
func (p *Phone) UserID() string { return p.userID }

// Reconnected reports whether the server resumed an existing session.
func (p *Phone) Reconnected() bool { return p.reconnected }

// Incoming delivers one *Call per call.incoming, once its sdp.offer has been
// applied. Closed by Close.
func (p *Phone) Incoming() <-chan *Call { return p.incoming }

// Restored delivers one *Call per call.restored naming a call this Phone
// does not know (after a reconnect with Config.SessionID). Such a call has no
// media until the server re-offers. Dropped when full; closed by Close.
func (p *Phone) Restored() <-chan *Call { return p.restored }

// Errors delivers error frames that name no pending request and no known
// call. Dropped when full; closed by Close.
func (p *Phone) Errors() <-chan *ServerError { return p.errs }

// Notifications delivers every other frame that belongs to no request and no
// call (presence.update, unsolicited replies). Dropped when full; closed by
// Close.
func (p *Phone) Notifications() <-chan protocol.Message { return p.notices }

// Done is closed when the socket is gone; Err tells why.
func (p *Phone) Done() <-chan struct{} { return p.done }

// Err is why the socket is gone: a *ServerError for a fatal error frame,
// ErrClosed after Close, or the read error. Nil while connected.
func (p *Phone) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Send writes msg as one frame, as is.
func (p *Phone) Send(msg protocol.Message) error {
	data, err := protocol.Encode(msg)
	if err != nil {
		return err
	}
	select {
	case <-p.done:
		return p.Err()
	default:
	}
	p.wmu.Lock()
	defer p.wmu.Unlock()
	ctx, cancel := context.WithTimeout(p.ctx, writeTimeout)
	defer cancel()
	if err := p.conn.Write(ctx, websocket.MessageText, data); err != nil {
		if e := p.Err(); e != nil {
			return e
		}
		return fmt.Errorf("softphone: write %s: %w", msg.MessageType(), err)
	}
	p.log.Debug("softphone: sent", "type", msg.MessageType())
	return nil
}

// Request sends msg with a fresh req_id (unless it already has one) and
// returns the frame that echoes it. An error frame is returned both as the
// message and as a *ServerError. msg must have a string ReqID field; it is
// copied, not modified.
func (p *Phone) Request(ctx context.Context, msg protocol.Message) (protocol.Message, error) {
	msg, id, err := withReqID(msg, p.newReqID)
	if err != nil {
		return nil, err
	}
	pend, err := p.register(id, nil)
	if err != nil {
		return nil, err
	}
	defer p.unregister(id)
	if err := p.Send(msg); err != nil {
		return nil, err
	}
	reply, err := p.wait(ctx, pend)
	if err != nil {
		return nil, err
	}
	if e, ok := reply.(*protocol.Error); ok {
		return reply, serverError(e)
	}
	return reply, nil
}

// wait returns the reply of pend, ctx's error or the phone's.
func (p *Phone) wait(ctx context.Context, pend *pending) (protocol.Message, error) {
	select {
	case m := <-pend.ch:
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.done:
		select {
		case m := <-pend.ch:
			return m, nil
		default:
			return nil, p.Err()
		}
	}
}

// Close closes the socket without hanging calls up (as a dropped socket
// would), tears down every call's media, closes the phone's channels and
// waits for all its goroutines.
func (p *Phone) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closing = true
		calls := make([]*Call, 0, len(p.live))
		for c := range p.live {
			calls = append(calls, c)
		}
		p.mu.Unlock()
		p.cancel()
		_ = p.conn.CloseNow()
		for _, c := range calls {
			c.stop()
		}
		p.wg.Wait()
		p.finish(ErrClosed)
		close(p.incoming)
		close(p.restored)
		close(p.errs)
		close(p.notices)
	})
	p.wg.Wait()
	return nil
}

// finish records why the socket is gone (first reason wins) and closes done.
func (p *Phone) finish(err error) {
	p.mu.Lock()
	if p.err == nil {
		if p.closing {
			err = ErrClosed
		}
		p.err = err
	}
	p.mu.Unlock()
	p.doneOnce.Do(func() { close(p.done) })
}

func (p *Phone) newReqID() string { return "sp-" + strconv.FormatUint(p.nextID.Add(1), 10) }

func (p *Phone) register(id string, c *Call) (*pending, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return nil, ErrClosed
	}
	if _, dup := p.pending[id]; dup {
		return nil, fmt.Errorf("softphone: req_id %q already pending", id)
	}
	pend := &pending{ch: make(chan protocol.Message, 1), call: c}
	p.pending[id] = pend
	return pend, nil
}

func (p *Phone) unregister(id string) {
	p.mu.Lock()
	delete(p.pending, id)
	p.mu.Unlock()
}

// reply hands m to the request waiting for id; false if none is.
func (p *Phone) reply(id string, m protocol.Message) bool {
	if id == "" {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pend := p.pending[id]
	if pend == nil {
		return false
	}
	delete(p.pending, id)
	if !pend.abandoned {
		pend.ch <- m // buffered, and only one reply per request
	}
	return true
}

func (p *Phone) lookup(callID string) *Call {
	if callID == "" {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[callID]
}

// readLoop is the socket's only reader. Its context ends only on Close:
// with coder/websocket an expired read closes the connection.
func (p *Phone) readLoop() {
	defer p.wg.Done()
	for {
		_, data, err := p.conn.Read(p.ctx)
		if err != nil {
			p.log.Debug("softphone: socket gone", "err", err)
			p.finish(fmt.Errorf("softphone: connection lost: %w", err))
			return
		}
		msg, err := protocol.DecodeServer(data)
		if err != nil {
			p.log.Warn("softphone: undecodable frame", "err", err)
			continue
		}
		p.log.Debug("softphone: received", "type", msg.MessageType())
		p.dispatch(msg)
	}
}

func (p *Phone) dispatch(msg protocol.Message) {
	reqID, callID := stringField(msg, "ReqID"), stringField(msg, "CallID")
	switch m := msg.(type) {
	case *protocol.Error:
		p.onError(m)
	case *protocol.CallTrying:
		p.onTrying(m)
	case *protocol.CallIncoming:
		if c := p.lookup(m.CallID); c != nil {
			c.post(msg)
			return
		}
		c, err := p.newCall(protocol.DirectionInbound, m.CallID, true, func(c *Call) {
			c.From, c.FromName, c.To = m.From, m.FromName, m.To
		})
		if err != nil {
			p.log.Warn("softphone: cannot take inbound call", "call", m.CallID, "err", err)
			return
		}
		c.post(msg)
	case *protocol.CallRestored:
		if c := p.lookup(m.CallID); c != nil {
			c.post(msg)
			return
		}
		c, err := p.newCall(m.Direction, m.CallID, false, func(c *Call) {
			c.From, c.FromName, c.To = m.From, m.FromName, m.To
			c.restored = true
		})
		if err != nil {
			return
		}
		c.post(msg)
		select {
		case p.restored <- c:
		default:
			p.log.Warn("softphone: Restored full, dropping call", "call", m.CallID)
		}
	default:
		if p.reply(reqID, msg) {
			return
		}
		if c := p.lookup(callID); c != nil {
			c.post(msg)
			return
		}
		if callID != "" {
			p.log.Debug("softphone: frame for unknown call", "type", msg.MessageType(), "call", callID)
			return
		}
		select {
		case p.notices <- msg:
		default:
			p.log.Warn("softphone: Notifications full, dropping frame", "type", msg.MessageType())
		}
	}
}

func (p *Phone) onError(m *protocol.Error) {
	se := serverError(m)
	c := p.lookup(m.CallID)
	switch {
	case p.reply(m.ReqID, m):
	case c != nil:
		c.post(m)
	default:
		select {
		case p.errs <- se:
		default:
			p.log.Warn("softphone: Errors full, dropping error", "code", m.Code)
		}
	}
	if se.Fatal {
		p.log.Debug("softphone: fatal error", "code", m.Code, "message", m.Message)
		p.finish(se)
		_ = p.conn.CloseNow()
	}
}

// onTrying binds a call.create's Call to its call id before any later frame
// of that call is dispatched. The reply is queued under the lock so that
// abandon sees either the pending request or its reply.
func (p *Phone) onTrying(m *protocol.CallTrying) {
	p.mu.Lock()
	pend := p.pending[m.ReqID]
	if pend != nil {
		delete(p.pending, m.ReqID)
		if !pend.abandoned {
			if pend.call != nil && m.CallID != "" {
				pend.call.ID = m.CallID
				p.calls[m.CallID] = pend.call
			}
			pend.ch <- m
		}
	}
	p.mu.Unlock()
	switch {
	case pend == nil:
		if c := p.lookup(m.CallID); c != nil {
			c.post(m)
		}
	case pend.abandoned:
		p.log.Debug("softphone: hanging up abandoned call", "call", m.CallID)
		_ = p.Send(protocol.CallHangup{CallID: m.CallID})
	case pend.call != nil:
		pend.call.post(m)
	}
}

// stringField reads a string field of a message struct (or pointer to one).
func stringField(m protocol.Message, name string) string {
	v := reflect.ValueOf(m)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return ""
	}
	f := v.FieldByName(name)
	if !f.IsValid() || f.Kind() != reflect.String {
		return ""
	}
	return f.String()
}

// withReqID returns a copy of msg whose ReqID is set (to newID() when empty).
func withReqID(msg protocol.Message, newID func() string) (protocol.Message, string, error) {
	v := reflect.ValueOf(msg)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil, "", ErrNoReqID
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil, "", ErrNoReqID
	}
	cp := reflect.New(v.Type())
	cp.Elem().Set(v)
	f := cp.Elem().FieldByName("ReqID")
	if !f.IsValid() || f.Kind() != reflect.String || !f.CanSet() {
		return nil, "", ErrNoReqID
	}
	if f.String() == "" {
		f.SetString(newID())
	}
	out, ok := cp.Interface().(protocol.Message)
	if !ok {
		return nil, "", ErrNoReqID
	}
	return out, f.String(), nil
}

// lockedSource serializes reads of a source shared by several calls.
type lockedSource struct {
	mu  sync.Mutex
	src audio.Source
}

func (s *lockedSource) Read(pcm []int16) {
	s.mu.Lock()
	s.src.Read(pcm)
	s.mu.Unlock()
}
