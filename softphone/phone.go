package softphone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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
	// EmergencyAddressID is presented on every authenticate
	// (authenticate.emergency_address_id): the server binds it to the
	// network the socket comes from, or answers network.changed.
	EmergencyAddressID string
	// HTTPClient dials the socket (e.g. from a chosen local address);
	// nil uses http.DefaultClient.
	HTTPClient *http.Client
	// UserAgent is sent on the socket's upgrade request (the server lists
	// it with the user's devices); empty: "switchboard-softphone".
	UserAgent string
	// Codec is the only audio codec this phone offers and accepts:
	// audio.Opus (the default), audio.PCMU or audio.PCMA.
	Codec audio.Codec
	// Source is the initial audio source of new calls; nil means silence.
	// It must produce PCM at SourceRate. Every call of the phone reads from
	// it (reads are serialized); use Call.SetSource for per-call audio.
	Source audio.Source
	// Features are asked for in every authenticate (authenticate.features),
	// e.g. protocol.FeatureQuality for call.quality frames on each call's
	// Events.
	Features []string
	// Impairment, when set, degrades every call's outgoing audio (packet
	// loss and jitter), for tests of quality measurement.
	Impairment *Impairment
	Logger     *slog.Logger // nil discards
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
	// ErrDisconnected is what sends (and requests waiting for a reply)
	// return while the phone has no socket: after DropConnection, or once
	// the server closed the socket without a fatal error. See Reconnect.
	ErrDisconnected = errors.New("softphone: disconnected")
)

// Phone is one signalling socket (a device session) and its calls.
type Phone struct {
	cfg    Config
	log    *slog.Logger
	spec   codecSpec
	api    *webrtc.API
	source audio.Source // cfg.Source, serialized

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wmu    sync.Mutex
	nextID atomic.Uint64

	mu           sync.Mutex
	link         *link // the current socket; never nil once connected
	token        string
	userID       string
	sessionID    string
	reconnected  bool
	reconnecting bool // a Reconnect is under way
	pending      map[string]*pending
	calls        map[string]*Call   // bound calls by id
	live         map[*Call]struct{} // every call not yet torn down
	closing      bool
	err          error

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
	p := &Phone{
		cfg: cfg, log: log, spec: spec, api: api, token: cfg.Token,
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
	conn, err := p.dial(ctx)
	if err != nil {
		p.cancel()
		return nil, err
	}
	a, err := p.authenticate(ctx, conn, cfg.Token, cfg.SessionID)
	if err != nil {
		p.cancel()
		_ = conn.CloseNow()
		return nil, err
	}
	p.userID, p.sessionID, p.reconnected = a.UserID, a.SessionID, a.Reconnected
	p.link = newLink(conn)
	p.wg.Add(1)
	go p.readLoop(p.link)
	return p, nil
}

// SessionID is the device session id from the latest authenticated.
func (p *Phone) SessionID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sessionID
}

// UserID is the authenticated user's id.
func (p *Phone) UserID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.userID
}

// Reconnected reports whether the server resumed an existing session, as
// the latest authenticated (Connect's or Reconnect's) said.
func (p *Phone) Reconnected() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reconnected
}

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

// Done is closed when the phone is finished: after a fatal error frame or
// Close. Err tells why. A socket lost otherwise (DropConnection, a network
// error, the server closing it without a fatal error) only disconnects the
// phone: Done stays open, calls and their media go on, and Reconnect can
// resume the session. Disconnected signals such a loss.
func (p *Phone) Done() <-chan struct{} { return p.done }

// Err is why the phone is finished: a *ServerError for a fatal error frame,
// or ErrClosed after Close. Nil until then, also while disconnected.
func (p *Phone) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Send writes msg as one frame, as is. While disconnected it returns
// ErrDisconnected; once the phone is finished, Err.
func (p *Phone) Send(msg protocol.Message) error {
	_, err := p.send(msg)
	return err
}

// send writes msg on the current socket and returns that socket.
func (p *Phone) send(msg protocol.Message) (*link, error) {
	data, err := protocol.Encode(msg)
	if err != nil {
		return nil, err
	}
	select {
	case <-p.done:
		return nil, p.Err()
	default:
	}
	p.mu.Lock()
	l := p.link
	p.mu.Unlock()
	if l.lost() {
		return nil, p.lostErr()
	}
	p.wmu.Lock()
	defer p.wmu.Unlock()
	ctx, cancel := context.WithTimeout(p.ctx, writeTimeout)
	defer cancel()
	if err := l.conn.Write(ctx, websocket.MessageText, data); err != nil {
		if e := p.Err(); e != nil {
			return nil, e
		}
		if l.lost() {
			return nil, p.lostErr()
		}
		return nil, fmt.Errorf("softphone: write %s: %w", msg.MessageType(), err)
	}
	p.log.Debug("softphone: sent", "type", msg.MessageType())
	return l, nil
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
	l, err := p.send(msg)
	if err != nil {
		return nil, err
	}
	reply, err := p.wait(ctx, pend, l)
	if err != nil {
		return nil, err
	}
	if e, ok := reply.(*protocol.Error); ok {
		return reply, serverError(e)
	}
	return reply, nil
}

// wait returns the reply of pend, ctx's error, the phone's, or
// ErrDisconnected when l, the socket the request went out on, is lost.
func (p *Phone) wait(ctx context.Context, pend *pending, l *link) (protocol.Message, error) {
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
	case <-l.down:
		<-l.readerDone // everything read from l is dispatched
		select {
		case m := <-pend.ch:
			return m, nil
		default:
			return nil, p.lostErr()
		}
	}
}

// Close closes the socket without hanging calls up (as a dropped socket
// would), tears down every call's media (the calls do not end: EndReason
// stays unset), closes the phone's channels and waits for all its
// goroutines. It also interrupts a Reconnect under way.
func (p *Phone) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closing = true
		l := p.link
		calls := make([]*Call, 0, len(p.live))
		for c := range p.live {
			calls = append(calls, c)
		}
		p.mu.Unlock()
		p.cancel()
		l.markLost()
		_ = l.conn.CloseNow()
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
