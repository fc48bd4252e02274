package softphone

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/leakcheck"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

func TestMain(m *testing.M) {
	leakcheck.Main(m)
}

const waitFor = 5 * time.Second

// fakeServer is a tiny in-process signalling server: each accepted socket
// becomes a fakeConn the test drives frame by frame.
type fakeServer struct {
	srv   *httptest.Server
	conns chan *fakeConn
	wg    sync.WaitGroup

	mu   sync.Mutex
	open []*websocket.Conn
}

type fakeConn struct {
	c      *websocket.Conn
	frames chan protocol.Message // client frames; closed when the socket ends
}

func newFakeServer(t *testing.T) *fakeServer {
	fs := &fakeServer{conns: make(chan *fakeConn, 4)}
	fs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{protocol.Subprotocol}})
		if err != nil {
			return
		}
		fs.wg.Add(1)
		defer fs.wg.Done()
		fs.mu.Lock()
		fs.open = append(fs.open, c)
		fs.mu.Unlock()
		fc := &fakeConn{c: c, frames: make(chan protocol.Message, 64)}
		fs.conns <- fc
		defer close(fc.frames)
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				return
			}
			m, err := protocol.DecodeClient(data)
			if err != nil {
				continue
			}
			fc.frames <- m
		}
	}))
	t.Cleanup(func() {
		fs.mu.Lock()
		for _, c := range fs.open {
			_ = c.CloseNow()
		}
		fs.mu.Unlock()
		fs.wg.Wait()
		fs.srv.Close()
	})
	return fs
}

func (fs *fakeServer) url() string {
	return "ws" + strings.TrimPrefix(fs.srv.URL, "http") + "/v1/webrtc"
}

// within returns the next value from ch, or fails the test with msg
// after waitFor.
func within[T any](t *testing.T, ch <-chan T, msg string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitFor):
		t.Fatal(msg)
		var zero T
		return zero
	}
}

// serverHangsUp sends call.ended (hangup) for c and checks that the call
// ends with that reason and is torn down.
func serverHangsUp(t *testing.T, ctx context.Context, fc *fakeConn, c *Call) {
	t.Helper()
	fc.send(t, &protocol.CallEnded{CallID: c.ID, Reason: protocol.EndHangup})
	_, err := c.WaitFor(ctx, protocol.TypeCallEnded)
	require.NoError(t, err)
	reason, ended := c.EndReason()
	require.True(t, ended)
	require.Equal(t, protocol.EndHangup, reason)
	within(t, c.Done(), "call not torn down")
}

func (fs *fakeServer) accept(t *testing.T) *fakeConn {
	t.Helper()
	return within(t, fs.conns, "no connection")
}

func (fc *fakeConn) send(t *testing.T, m protocol.Message) {
	t.Helper()
	data, err := protocol.Encode(m)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, fc.c.Write(ctx, websocket.MessageText, data))
}

func (fc *fakeConn) read(t *testing.T) protocol.Message {
	t.Helper()
	select {
	case m, ok := <-fc.frames:
		require.True(t, ok, "socket closed")
		return m
	case <-time.After(waitFor):
		t.Fatal("no frame from the phone")
		return nil
	}
}

func readAs[T protocol.Message](t *testing.T, fc *fakeConn) T {
	t.Helper()
	m := fc.read(t)
	v, ok := m.(T)
	require.True(t, ok, "want %T, got %#v", v, m)
	return v
}

// connect authenticates a phone against fs.
func connect(t *testing.T, fs *fakeServer, cfg Config) (*Phone, *fakeConn) {
	t.Helper()
	cfg.URL, cfg.Token = fs.url(), "tok"
	type result struct {
		p   *Phone
		err error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		p, err := Connect(ctx, cfg)
		done <- result{p, err}
	}()
	fc := fs.accept(t)
	auth := readAs[*protocol.Authenticate](t, fc)
	require.Equal(t, "tok", auth.Token)
	require.Equal(t, cfg.SessionID, auth.SessionID)
	fc.send(t, &protocol.Authenticated{ReqID: auth.ReqID, UserID: "user_1", AccountID: "acct_1",
		SessionID: "sess_1", Reconnected: cfg.SessionID != ""})
	r := <-done
	require.NoError(t, r.err)
	t.Cleanup(func() { _ = r.p.Close() })
	return r.p, fc
}

// farEnd is the server side of the media: a second PeerConnection built
// from the package's own endpoint.
type farEnd struct {
	ep *endpoint
	pc *webrtc.PeerConnection
}

func newFarEnd(t *testing.T, codec audio.Codec, src audio.Source) *farEnd {
	t.Helper()
	spec, err := specFor(codec)
	require.NoError(t, err)
	api, err := newAPI(spec)
	require.NoError(t, err)
	ep := newEndpoint(spec, src, slog.New(slog.DiscardHandler), nil)
	pc, err := ep.start(api)
	require.NoError(t, err)
	t.Cleanup(ep.close)
	return &farEnd{ep: ep, pc: pc}
}

func (f *farEnd) local(t *testing.T, desc webrtc.SessionDescription) string {
	t.Helper()
	gathered := webrtc.GatheringCompletePromise(f.pc)
	require.NoError(t, f.pc.SetLocalDescription(desc))
	within(t, gathered, "far end: gathering did not complete")
	return f.pc.LocalDescription().SDP
}

func (f *farEnd) answer(t *testing.T, offer string) string {
	t.Helper()
	require.NoError(t, f.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}))
	answer, err := f.pc.CreateAnswer(nil)
	require.NoError(t, err)
	return f.local(t, answer)
}

func (f *farEnd) offer(t *testing.T) string {
	t.Helper()
	offer, err := f.pc.CreateOffer(nil)
	require.NoError(t, err)
	return f.local(t, offer)
}

func hears(t *testing.T, d *audio.Detector, freq float64, what string) {
	t.Helper()
	require.Eventually(t, func() bool { return d.Level(freq) > 0.5 }, waitFor, 20*time.Millisecond,
		"%s: %v Hz level %.2f", what, freq, d.Level(freq))
}

func types(ms []protocol.Message) []protocol.Type {
	out := make([]protocol.Type, len(ms))
	for i, m := range ms {
		out[i] = m.MessageType()
	}
	return out
}

func TestOutboundCall(t *testing.T) {
	for _, tc := range []struct {
		codec audio.Codec
		mime  string
	}{{audio.Opus, webrtc.MimeTypeOpus}, {audio.PCMU, webrtc.MimeTypePCMU}} {
		t.Run(string(tc.codec), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			fs := newFakeServer(t)
			warns := &warnLog{}
			p, fc := connect(t, fs, Config{Codec: tc.codec, Source: audio.NewTone(1000, SourceRate, 0.5),
				Logger: slog.New(warns)})
			require.Equal(t, "user_1", p.UserID())
			require.Equal(t, "sess_1", p.SessionID())
			require.False(t, p.Reconnected())
			far := newFarEnd(t, tc.codec, audio.NewTone(440, SourceRate, 0.5))

			type result struct {
				c   *Call
				err error
			}
			placed := make(chan result, 1)
			go func() {
				c, err := p.Call(ctx, "105", WithCallerID("+14155550100"))
				placed <- result{c, err}
			}()
			create := readAs[*protocol.CallCreate](t, fc)
			require.Equal(t, "105", create.Destination)
			require.Equal(t, "+14155550100", create.CallerID)
			require.NotEmpty(t, create.ReqID)
			require.Contains(t, create.SDP, "a=candidate:", "candidates are embedded")
			answer := far.answer(t, create.SDP)

			fc.send(t, &protocol.CallTrying{CallID: "call_1", ReqID: create.ReqID})
			fc.send(t, &protocol.CallRinging{CallID: "call_1"})
			fc.send(t, &protocol.SDPPranswer{CallID: "call_1", SDP: answer})
			fc.send(t, &protocol.SDPAnswer{CallID: "call_1", SDP: answer})
			fc.send(t, &protocol.CallAnswered{CallID: "call_1", AnsweredAt: time.Now().UTC().Format(time.RFC3339)})
			r := <-placed
			require.NoError(t, r.err)
			c := r.c
			require.Equal(t, "call_1", c.ID)
			require.Equal(t, protocol.DirectionOutbound, c.Direction)
			require.Equal(t, "105", c.To)

			_, err := c.WaitFor(ctx, protocol.TypeCallAnswered)
			require.NoError(t, err)
			require.Equal(t, []protocol.Type{protocol.TypeCallTrying, protocol.TypeCallRinging,
				protocol.TypeSDPPranswer, protocol.TypeSDPAnswer},
				types(c.History()))

			hears(t, c.Detector(), 440, "phone")
			hears(t, far.ep.detector, 1000, "far end")
			require.True(t, strings.EqualFold(tc.mime, c.Codec()), c.Codec())
			require.NotZero(t, c.Received())
			require.Equal(t, webrtc.SignalingStateStable, c.PeerConnection().SignalingState())
			require.Empty(t, warns.all())

			// DTMF both ways, as RFC 4733 events.
			require.NoError(t, c.SendDTMF("1*9#"))
			require.Eventually(t, func() bool { return string(far.ep.dtmf()) == "1*9#" }, waitFor, 20*time.Millisecond)
			require.NoError(t, far.ep.sendDTMF("5D"))
			require.Eventually(t, func() bool { return string(c.DTMF()) == "5D" }, waitFor, 20*time.Millisecond)
			require.Error(t, c.SendDTMF("x"))

			// Switching the source changes what the far end hears.
			c.SetSource(audio.NewTone(600, SourceRate, 0.5))
			hears(t, far.ep.detector, 600, "far end after SetSource")

			// Call control frames go out as is.
			require.NoError(t, c.Hold())
			require.Equal(t, "call_1", readAs[*protocol.CallHold](t, fc).CallID)
			require.NoError(t, c.Mute())
			readAs[*protocol.CallMute](t, fc)
			require.NoError(t, c.Hangup())
			readAs[*protocol.CallHangup](t, fc)

			serverHangsUp(t, ctx, fc, c)
			_, open := <-c.Events()
			require.False(t, open, "Events closed after call.ended")
			require.Equal(t, webrtc.PeerConnectionStateClosed, c.PeerConnection().ConnectionState())
			_, err = c.WaitFor(ctx, protocol.TypeCallAnswered)
			require.ErrorIs(t, err, ErrCallEnded)
		})
	}
}

func TestInboundCall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fs := newFakeServer(t)
	p, fc := connect(t, fs, Config{Codec: audio.PCMU, Source: audio.NewTone(1000, SourceRate, 0.5)})
	far := newFarEnd(t, audio.PCMU, audio.NewTone(440, SourceRate, 0.5))

	fc.send(t, &protocol.CallIncoming{CallID: "call_in", From: "+14155550100", FromName: "Alice", To: "102"})
	// A candidate before the offer is buffered until the offer is applied.
	fc.send(t, &protocol.ICECandidate{CallID: "call_in",
		Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host", SDPMid: "0"})
	fc.send(t, &protocol.SDPOffer{CallID: "call_in", SDP: far.offer(t)})
	c := within(t, p.Incoming(), "no incoming call")
	require.Equal(t, "call_in", c.ID)
	require.Equal(t, protocol.DirectionInbound, c.Direction)
	require.Equal(t, "+14155550100", c.From)
	require.Equal(t, "Alice", c.FromName)
	require.Equal(t, "102", c.To)
	require.NotNil(t, c.PeerConnection().RemoteDescription())

	require.NoError(t, c.Answer(ctx))
	require.Equal(t, "call_in", readAs[*protocol.CallAnswer](t, fc).CallID)
	ans := readAs[*protocol.SDPAnswer](t, fc)
	require.Equal(t, "call_in", ans.CallID)
	require.Contains(t, ans.SDP, "a=candidate:")
	require.NoError(t, far.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans.SDP}))
	fc.send(t, &protocol.CallAnswered{CallID: "call_in", AnsweredAt: time.Now().UTC().Format(time.RFC3339)})

	m, err := c.WaitFor(ctx, protocol.TypeCallAnswered)
	require.NoError(t, err)
	require.IsType(t, &protocol.CallAnswered{}, m)
	hears(t, c.Detector(), 440, "phone")
	hears(t, far.ep.detector, 1000, "far end")

	// A re-offer (ICE restart) from the server is answered.
	reoffer, err := far.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	require.NoError(t, err)
	fc.send(t, &protocol.SDPOffer{CallID: "call_in", SDP: far.local(t, reoffer)})
	ans = readAs[*protocol.SDPAnswer](t, fc)
	require.NoError(t, far.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans.SDP}))
	far.ep.detector.Reset()
	hears(t, far.ep.detector, 1000, "far end after ICE restart")

	// SetSending(false) stops the phone's packets.
	c.SetSending(false)
	time.Sleep(100 * time.Millisecond) // let packets in flight land
	before := far.ep.received.Load()
	time.Sleep(200 * time.Millisecond) // proving an absence needs a pause
	require.Equal(t, before, far.ep.received.Load())
	c.SetSending(true)
	hears(t, far.ep.detector, 1000, "far end after SetSending(true)")

	// A call error goes to the call's Events.
	fc.send(t, &protocol.Error{Code: protocol.CodeInvalidMessage, Message: "not held", CallID: "call_in"})
	m, err = c.WaitFor(ctx, protocol.TypeError)
	require.NoError(t, err)
	require.Equal(t, protocol.CodeInvalidMessage, m.(*protocol.Error).Code)

	fc.send(t, &protocol.CallEnded{CallID: "call_in", Reason: protocol.EndAnsweredElsewhere})
	_, err = c.WaitFor(ctx, protocol.TypeCallHeld)
	require.ErrorIs(t, err, ErrCallEnded)
	reason, _ := c.EndReason()
	require.Equal(t, protocol.EndAnsweredElsewhere, reason)
}

func TestRejectAndErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fs := newFakeServer(t)
	p, fc := connect(t, fs, Config{Codec: audio.PCMU})

	// call.create refused → *ServerError, and the call is gone.
	placed := make(chan error, 1)
	go func() {
		_, err := p.Call(ctx, "+1555")
		placed <- err
	}()
	create := readAs[*protocol.CallCreate](t, fc)
	fc.send(t, &protocol.Error{Code: protocol.CodeInvalidMessage, Message: "caller_id", ReqID: create.ReqID})
	var se *ServerError
	require.ErrorAs(t, <-placed, &se)
	require.Equal(t, protocol.CodeInvalidMessage, se.Code)
	require.Equal(t, create.ReqID, se.ReqID)

	// Request sets req_id and returns the reply echoing it.
	replied := make(chan protocol.Message, 1)
	go func() {
		m, err := p.Request(ctx, protocol.Ping{})
		if err != nil {
			m = nil
		}
		replied <- m
	}()
	ping := readAs[*protocol.Ping](t, fc)
	require.NotEmpty(t, ping.ReqID)
	fc.send(t, &protocol.Pong{ReqID: "someone-else"})
	fc.send(t, &protocol.Pong{ReqID: ping.ReqID})
	require.Equal(t, &protocol.Pong{ReqID: ping.ReqID}, <-replied)
	m := within(t, p.Notifications(), "no notification")
	require.Equal(t, &protocol.Pong{ReqID: "someone-else"}, m)
	_, err := p.Request(ctx, protocol.CallHold{CallID: "x"})
	require.ErrorIs(t, err, ErrNoReqID)

	// Inbound call rejected.
	far := newFarEnd(t, audio.PCMU, nil)
	fc.send(t, &protocol.CallIncoming{CallID: "call_2", From: "101", To: "102"})
	fc.send(t, &protocol.SDPOffer{CallID: "call_2", SDP: far.offer(t)})
	c := <-p.Incoming()
	require.NoError(t, c.Reject(protocol.RejectBusy))
	rej := readAs[*protocol.CallReject](t, fc)
	require.Equal(t, protocol.RejectBusy, rej.Reason)

	// An unrelated non-fatal error goes to Errors.
	fc.send(t, &protocol.Error{Code: protocol.CodeRateLimited, Message: "slow down"})
	e := within(t, p.Errors(), "no error")
	require.Equal(t, protocol.CodeRateLimited, e.Code)

	// A fatal error ends the phone.
	fc.send(t, &protocol.Error{Code: protocol.CodeGoingAway, Message: "draining", Fatal: true})
	within(t, p.Done(), "phone not done after a fatal error")
	require.ErrorAs(t, p.Err(), &se)
	require.Equal(t, protocol.CodeGoingAway, se.Code)
	require.True(t, se.Fatal)
	require.Error(t, p.Send(protocol.Ping{}))
	_, err = c.WaitFor(ctx, protocol.TypeCallAnswered)
	require.ErrorAs(t, err, &se)

	require.NoError(t, p.Close())
	select {
	case <-c.Done():
	default:
		t.Fatal("Close left a call running")
	}
	_, err = p.Call(ctx, "105")
	require.True(t, errors.Is(err, ErrClosed) || errors.As(err, &se), err)
}

func TestConnectAuthFailed(t *testing.T) {
	fs := newFakeServer(t)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		_, err := Connect(ctx, Config{URL: fs.url(), Token: "bad"})
		done <- err
	}()
	fc := fs.accept(t)
	readAs[*protocol.Authenticate](t, fc)
	fc.send(t, &protocol.Error{Code: protocol.CodeAuthFailed, Message: "bad token", Fatal: true})
	var se *ServerError
	require.ErrorAs(t, <-done, &se)
	require.Equal(t, protocol.CodeAuthFailed, se.Code)
}

func TestRestoredCall(t *testing.T) {
	fs := newFakeServer(t)
	p, fc := connect(t, fs, Config{Codec: audio.PCMU, SessionID: "sess_1"})
	require.True(t, p.Reconnected())
	fc.send(t, &protocol.CallRestored{CallID: "call_r", State: protocol.StateActive, From: "101", To: "102",
		Direction: protocol.DirectionOutbound})
	c := within(t, p.Restored(), "no restored call")
	require.Equal(t, "call_r", c.ID)
	require.Nil(t, c.PeerConnection())

	// The server re-offers: the phone builds media and answers.
	far := newFarEnd(t, audio.PCMU, audio.NewTone(440, SourceRate, 0.5))
	fc.send(t, &protocol.SDPOffer{CallID: "call_r", SDP: far.offer(t)})
	ans := readAs[*protocol.SDPAnswer](t, fc)
	require.NoError(t, far.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans.SDP}))
	hears(t, c.Detector(), 440, "restored phone")
}

// warnLog records warnings so tests can check nothing went wrong quietly.
type warnLog struct {
	mu    sync.Mutex
	warns []string
}

func (w *warnLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnLog) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool { msg += " " + a.String(); return true })
	w.warns = append(w.warns, msg)
	return nil
}
func (w *warnLog) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnLog) WithGroup(string) slog.Handler      { return w }
func (w *warnLog) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.warns...)
}

func TestEarlyMediaAndAbandon(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fs := newFakeServer(t)
	warns := &warnLog{}
	p, fc := connect(t, fs, Config{Codec: audio.Opus, Logger: slog.New(warns)})
	far := newFarEnd(t, audio.Opus, audio.NewTone(440, SourceRate, 0.5))

	placed := make(chan *Call, 1)
	go func() {
		c, err := p.Call(ctx, "+14155551234")
		if err != nil {
			c = nil
		}
		placed <- c
	}()
	create := readAs[*protocol.CallCreate](t, fc)
	answer := far.answer(t, create.SDP)
	fc.send(t, &protocol.CallTrying{CallID: "call_e", ReqID: create.ReqID})
	c := <-placed
	require.NotNil(t, c)
	fc.send(t, &protocol.SDPPranswer{CallID: "call_e", SDP: answer})
	_, err := c.WaitFor(ctx, protocol.TypeSDPPranswer)
	require.NoError(t, err)
	hears(t, c.Detector(), 440, "early media")
	// A final answer that differs from the pranswer (here: the server now
	// only receives) is applied too.
	final := strings.Replace(answer, "a=sendrecv", "a=recvonly", 1)
	require.NotEqual(t, answer, final)
	fc.send(t, &protocol.SDPAnswer{CallID: "call_e", SDP: final})
	_, err = c.WaitFor(ctx, protocol.TypeSDPAnswer)
	require.NoError(t, err)
	require.Equal(t, webrtc.SignalingStateStable, c.PeerConnection().SignalingState())
	require.Contains(t, c.PeerConnection().RemoteDescription().SDP, "a=recvonly")
	require.Empty(t, warns.all())

	// A caller that gives up before call.trying hangs the late call up.
	short, stop := context.WithCancel(ctx)
	gaveUp := make(chan error, 1)
	go func() {
		_, err := p.Call(short, "105")
		gaveUp <- err
	}()
	create = readAs[*protocol.CallCreate](t, fc)
	stop()
	require.ErrorIs(t, <-gaveUp, context.Canceled)
	fc.send(t, &protocol.CallTrying{CallID: "call_late", ReqID: create.ReqID})
	require.Equal(t, "call_late", readAs[*protocol.CallHangup](t, fc).CallID)
}
