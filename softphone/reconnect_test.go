package softphone

import (
	"context"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// placeCall places an outbound call to 105 that far answers; it returns
// once call.answered is on the call's Events.
func placeCall(t *testing.T, ctx context.Context, p *Phone, fc *fakeConn, far *farEnd, id string) *Call {
	t.Helper()
	type result struct {
		c   *Call
		err error
	}
	placed := make(chan result, 1)
	go func() {
		c, err := p.Call(ctx, "105")
		placed <- result{c, err}
	}()
	create := readAs[*protocol.CallCreate](t, fc)
	answer := far.answer(t, create.SDP)
	fc.send(t, &protocol.CallTrying{CallID: id, ReqID: create.ReqID})
	fc.send(t, &protocol.SDPAnswer{CallID: id, SDP: answer})
	fc.send(t, &protocol.CallAnswered{CallID: id, AnsweredAt: time.Now().UTC().Format(time.RFC3339)})
	r := <-placed
	require.NoError(t, r.err)
	_, err := r.c.WaitFor(ctx, protocol.TypeCallAnswered)
	require.NoError(t, err)
	return r.c
}

// reconnect runs p.Reconnect against fs: the fake server checks that
// authenticate carries token and the session id wantSession, and answers
// with reply (its req_id filled in) unless reply is nil. It returns the new
// socket and Reconnect's result.
func reconnect(t *testing.T, fs *fakeServer, p *Phone, token, wantSession string, reply protocol.Message) (*fakeConn, <-chan error) {
	t.Helper()
	res := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		res <- p.Reconnect(ctx)
	}()
	fc := fs.accept(t)
	auth := readAs[*protocol.Authenticate](t, fc)
	require.Equal(t, token, auth.Token)
	require.Equal(t, wantSession, auth.SessionID, "reconnect resumes the session")
	switch m := reply.(type) {
	case *protocol.Authenticated:
		m.ReqID = auth.ReqID
		fc.send(t, m)
	case *protocol.Error:
		m.ReqID = auth.ReqID
		fc.send(t, m)
	}
	return fc, res
}

func result(t *testing.T, res <-chan error) error {
	t.Helper()
	return within(t, res, "Reconnect did not return")
}

// socketEnds waits until the fake server sees fc's socket end.
func socketEnds(t *testing.T, fc *fakeConn) {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case _, ok := <-fc.frames:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("socket still open")
		}
	}
}

func notDone(t *testing.T, p *Phone) {
	t.Helper()
	select {
	case <-p.Done():
		t.Fatalf("phone finished: %v", p.Err())
	default:
	}
	require.NoError(t, p.Err())
}

func TestCallSurvivesDrop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fs := newFakeServer(t)
	p, fc := connect(t, fs, Config{Codec: audio.PCMU, Source: audio.NewTone(1000, SourceRate, 0.5)})
	far := newFarEnd(t, audio.PCMU, audio.NewTone(440, SourceRate, 0.5))
	c := placeCall(t, ctx, p, fc, far, "call_1")
	hears(t, c.Detector(), 440, "phone")
	hears(t, far.ep.detector, 1000, "far end")

	disconnected := p.Disconnected()
	p.DropConnection()
	socketEnds(t, fc)
	select {
	case <-disconnected:
	default:
		t.Fatal("Disconnected not closed")
	}
	require.False(t, p.Connected())
	notDone(t, p)
	require.ErrorIs(t, c.Hold(), ErrDisconnected)
	select {
	case <-c.Done():
		t.Fatal("DropConnection tore the call down")
	default:
	}

	// Media goes on both ways while the socket is down.
	heard, farHeard := c.Detector().Samples(), far.ep.detector.Samples()
	for range 5 {
		require.Eventually(t, func() bool { return c.Detector().Samples() > heard }, waitFor, 10*time.Millisecond,
			"phone stopped decoding")
		heard = c.Detector().Samples()
		require.Greater(t, c.Detector().Level(440), 0.5)
		time.Sleep(100 * time.Millisecond) // continuity takes time to show
	}
	require.Greater(t, far.ep.detector.Samples(), farHeard)
	require.Greater(t, far.ep.detector.Level(1000), 0.5)
	require.Equal(t, webrtc.PeerConnectionStateConnected, c.PeerConnection().ConnectionState())

	// The session is resumed: call.restored goes to the known call, and one
	// for a call this phone does not know makes a Restored call.
	p.SetToken("tok2")
	fc2, res := reconnect(t, fs, p, "tok2", "sess_1", &protocol.Authenticated{UserID: "user_1",
		AccountID: "acct_1", SessionID: "sess_1", Reconnected: true})
	answeredAt := time.Now().UTC().Format(time.RFC3339)
	fc2.send(t, &protocol.CallRestored{CallID: "call_1", State: protocol.StateActive, To: "105",
		Direction: protocol.DirectionOutbound, AnsweredAt: &answeredAt})
	fc2.send(t, &protocol.CallRestored{CallID: "call_other", State: protocol.StateRinging, From: "101",
		To: "102", Direction: protocol.DirectionInbound})
	require.NoError(t, result(t, res))
	require.True(t, p.Reconnected())
	require.Equal(t, "sess_1", p.SessionID())
	require.True(t, p.Connected())
	notDone(t, p)

	m, err := c.WaitFor(ctx, protocol.TypeCallRestored)
	require.NoError(t, err)
	restored := m.(*protocol.CallRestored)
	require.Equal(t, "call_1", restored.CallID)
	require.Equal(t, protocol.StateActive, restored.State)
	other := within(t, p.Restored(), "no restored call for the unknown call id")
	require.Equal(t, "call_other", other.ID)
	require.NoError(t, c.Hold())
	require.Equal(t, "call_1", readAs[*protocol.CallHold](t, fc2).CallID)
	hears(t, c.Detector(), 440, "phone after reconnect")

	// A call.ended replayed after call.restored ends the call.
	serverHangsUp(t, ctx, fc2, c)
	require.Equal(t, webrtc.PeerConnectionStateClosed, c.PeerConnection().ConnectionState())
}

func TestReconnectSessionExpired(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fs := newFakeServer(t)
	p, fc := connect(t, fs, Config{Codec: audio.PCMU, Source: audio.NewTone(1000, SourceRate, 0.5)})
	far := newFarEnd(t, audio.PCMU, audio.NewTone(440, SourceRate, 0.5))
	out := placeCall(t, ctx, p, fc, far, "call_1")
	hears(t, out.Detector(), 440, "phone")
	// A second call, inbound and still ringing.
	far2 := newFarEnd(t, audio.PCMU, nil)
	fc.send(t, &protocol.CallIncoming{CallID: "call_in", From: "101", To: "102"})
	fc.send(t, &protocol.SDPOffer{CallID: "call_in", SDP: far2.offer(t)})
	in := within(t, p.Incoming(), "no incoming call")

	p.DropConnection()
	socketEnds(t, fc)
	fc2, res := reconnect(t, fs, p, "tok", "sess_1", &protocol.Authenticated{UserID: "user_1",
		AccountID: "acct_1", SessionID: "sess_2", Reconnected: false})
	require.NoError(t, result(t, res))
	require.False(t, p.Reconnected())
	require.Equal(t, "sess_2", p.SessionID())
	notDone(t, p)

	// Both calls ended as if call.ended {reason: hangup} had arrived.
	for _, c := range []*Call{out, in} {
		reason, ended := c.EndReason()
		require.True(t, ended, c.ID)
		require.Equal(t, protocol.EndHangup, reason)
		select {
		case <-c.Done():
		default:
			t.Fatalf("%s not torn down when Reconnect returned", c.ID)
		}
		require.Equal(t, webrtc.PeerConnectionStateClosed, c.PeerConnection().ConnectionState())
		m, err := c.WaitFor(ctx, protocol.TypeCallEnded)
		require.NoError(t, err)
		require.Equal(t, &protocol.CallEnded{CallID: c.ID, Reason: protocol.EndHangup}, m)
		_, open := <-c.Events()
		require.False(t, open, "Events closed after the synthetic call.ended")
		require.NoError(t, c.Hangup()) // the phone is connected: frames still go out
		readAs[*protocol.CallHangup](t, fc2)
	}

	// The new session works.
	replied := make(chan error, 1)
	go func() {
		_, err := p.Request(ctx, protocol.Ping{})
		replied <- err
	}()
	ping := readAs[*protocol.Ping](t, fc2)
	fc2.send(t, &protocol.Pong{ReqID: ping.ReqID})
	require.NoError(t, <-replied)
}

func TestDisconnected(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fs := newFakeServer(t)
	p, fc := connect(t, fs, Config{Codec: audio.PCMU})
	require.ErrorIs(t, p.Reconnect(ctx), errConnected)

	// A request waiting for its reply fails when the socket drops.
	replied := make(chan error, 1)
	go func() {
		_, err := p.Request(ctx, protocol.Ping{})
		replied <- err
	}()
	readAs[*protocol.Ping](t, fc)
	p.DropConnection()
	require.ErrorIs(t, <-replied, ErrDisconnected)
	p.DropConnection() // no-op

	require.ErrorIs(t, p.Send(protocol.Ping{}), ErrDisconnected)
	_, err := p.Request(ctx, protocol.Ping{})
	require.ErrorIs(t, err, ErrDisconnected)
	_, err = p.Call(ctx, "105")
	require.ErrorIs(t, err, ErrDisconnected)
	notDone(t, p)

	auth := &protocol.Authenticated{UserID: "user_1", AccountID: "acct_1", SessionID: "sess_1", Reconnected: true}
	fc2, res := reconnect(t, fs, p, "tok", "sess_1", auth)
	require.NoError(t, result(t, res))
	require.NoError(t, p.Send(protocol.Ping{}))
	readAs[*protocol.Ping](t, fc2)

	// The server closing the socket without a fatal error disconnects too.
	disconnected := p.Disconnected()
	require.NoError(t, fc2.c.CloseNow())
	within(t, disconnected, "Disconnected not closed")
	notDone(t, p)
	require.ErrorIs(t, p.Send(protocol.Ping{}), ErrDisconnected)

	// An error frame in reply to the reconnect's authenticate: the phone
	// stays disconnected and may retry.
	_, res = reconnect(t, fs, p, "tok", "sess_1", &protocol.Error{Code: protocol.CodeSessionLimit,
		Message: "too many", Fatal: true})
	var se *ServerError
	require.ErrorAs(t, result(t, res), &se)
	require.Equal(t, protocol.CodeSessionLimit, se.Code)
	require.False(t, p.Connected())
	notDone(t, p)

	fc4, res := reconnect(t, fs, p, "tok", "sess_1", auth)
	require.NoError(t, result(t, res))
	require.True(t, p.Connected())

	// A fatal error on a live socket finishes the phone, for good.
	fc4.send(t, &protocol.Error{Code: protocol.CodeGoingAway, Message: "draining", Fatal: true})
	within(t, p.Done(), "phone not done after a fatal error")
	require.ErrorAs(t, p.Err(), &se)
	require.Equal(t, protocol.CodeGoingAway, se.Code)
	require.ErrorAs(t, p.Reconnect(ctx), &se)
	require.ErrorAs(t, p.Send(protocol.Ping{}), &se)
	require.NoError(t, p.Close())
}

func TestCloseDuringReconnect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fs := newFakeServer(t)
	p, _ := connect(t, fs, Config{Codec: audio.PCMU})
	p.DropConnection()
	_, res := reconnect(t, fs, p, "tok", "sess_1", nil) // the server never answers
	require.NoError(t, p.Close())
	require.ErrorIs(t, result(t, res), ErrClosed)
	require.ErrorIs(t, p.Reconnect(ctx), ErrClosed)
	require.ErrorIs(t, p.Err(), ErrClosed)
	require.False(t, p.Connected())
}
