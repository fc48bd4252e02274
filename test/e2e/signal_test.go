package e2e

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/leakcheck"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/store/pgtest"
	"github.com/switchboard-voice/switchboard/test/harness"
)

func TestMain(m *testing.M) {
	code := leakcheck.Run(m,
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
		goleak.IgnoreAnyFunction("github.com/pion/transport/v3/vnet.(*UDPConn).ReadFrom"),
	)
	pgtest.Stop()
	os.Exit(code)
}

func TestSubprotocol(t *testing.T) {
	s := harness.Start(t, nil)
	for _, p := range []string{protocol.Subprotocol, protocol.SubprotocolAlias} {
		w, _, err := s.Dial(t, "other.v9", p)
		require.NoError(t, err)
		require.Equal(t, p, w.Conn.Subprotocol())
	}
	_, resp, err := s.Dial(t, "other.v9")
	require.Error(t, err)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	// No subprotocol at all is refused too.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, resp, err = websocket.Dial(ctx, s.WebSocketURL(), nil)
	require.Error(t, err)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestAuthenticate(t *testing.T) {
	s := harness.Start(t, nil)
	tok := s.Token(t, s.Alice, time.Hour)
	w, _, err := s.Dial(t)
	require.NoError(t, err)
	w.Send(map[string]any{"type": "authenticate", "token": tok, "req_id": "a1"})
	a := w.Read().(*protocol.Authenticated)
	require.Equal(t, "a1", a.ReqID)
	require.Equal(t, string(s.Alice.ID), a.UserID)
	require.Equal(t, string(s.Alice.AccountID), a.AccountID)
	require.True(t, strings.HasPrefix(a.SessionID, "sess_"))
	require.False(t, a.Reconnected)

	w.Send(map[string]any{"type": "ping", "req_id": "p1"})
	require.Equal(t, &protocol.Pong{ReqID: "p1"}, w.Read())
	w.Send(map[string]any{"type": "ping"})
	require.Equal(t, &protocol.Pong{}, w.Read())
	w.Send(map[string]any{"type": "authenticate", "token": tok, "req_id": "again"})
	e := w.ReadError(protocol.CodeInvalidMessage)
	require.Equal(t, "again", e.ReqID)
	require.False(t, e.Fatal)
}

func TestAuthFailures(t *testing.T) {
	s := harness.Start(t, nil)
	expired, _, err := s.Tokens.MintUntil(&s.Bob, time.Now().Add(-time.Minute))
	require.NoError(t, err)
	revoked := s.Token(t, s.Carol, time.Hour)
	require.Equal(t, 200, s.Do(t, "POST", "/v1/users/"+string(s.Carol.ID)+"/revoke_sessions", harness.AdminKey, nil).Status)
	good := s.Token(t, s.Alice, time.Hour)
	tampered := good[:len(good)-4] + "AAAA"

	tests := []struct {
		name  string
		first any
		msg   string
	}{
		{"garbage token", map[string]any{"type": "authenticate", "token": "nope"}, "invalid token"},
		{"tampered token", map[string]any{"type": "authenticate", "token": tampered}, "invalid token"},
		{"expired token", map[string]any{"type": "authenticate", "token": expired}, "expired"},
		{"revoked token", map[string]any{"type": "authenticate", "token": revoked}, "revoked"},
		{"missing token", map[string]any{"type": "authenticate"}, "authenticate"},
		{"frame before auth", map[string]any{"type": "ping"}, "authenticate"},
		{"call before auth", map[string]any{"type": "call.create", "destination": "102", "sdp": "v=0"}, "authenticate"},
		{"malformed json before auth", `{"type":`, "authenticate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, _, err := s.Dial(t)
			require.NoError(t, err)
			w.Send(tt.first)
			e := w.ReadError(protocol.CodeAuthFailed)
			require.True(t, e.Fatal)
			require.Contains(t, e.Message, tt.msg)
			w.RequireClosed(2 * time.Second)
		})
	}
}

func TestAuthTimeout(t *testing.T) {
	s := harness.Start(t, func(c *config.Config) { c.Signal.AuthTimeout = 300 * time.Millisecond })
	w, _, err := s.Dial(t)
	require.NoError(t, err)
	e := w.ReadError(protocol.CodeAuthFailed)
	require.True(t, e.Fatal)
	w.RequireClosed(2 * time.Second)
}

func TestInvalidFramesKeepSocket(t *testing.T) {
	s := harness.Start(t, nil)
	w, _ := s.Connect(t, s.Token(t, s.Alice, time.Hour))
	tests := []struct {
		frame  string
		reqID  string
		callID string
	}{
		{`{"type":"call.teleport","req_id":"r1"}`, "r1", ""},
		{`{not json`, "", ""},
		{`[1,2]`, "", ""},
		{`{"no_type":true}`, "", ""},
		{`{"type":"call.hangup"}`, "", ""},
		{`{"type":"call.hold","call_id":5,"req_id":"r2"}`, "r2", ""},
		{`{"type":"call.reject","call_id":"call_x","reason":"maybe"}`, "", "call_x"},
		{`{"type":"presence.subscribe","users":[]}`, "", ""},
	}
	for _, tt := range tests {
		w.Send(tt.frame)
		e := w.ReadError(protocol.CodeInvalidMessage)
		require.False(t, e.Fatal, tt.frame)
		require.Equal(t, tt.reqID, e.ReqID, tt.frame)
		require.Equal(t, tt.callID, e.CallID, tt.frame)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	require.NoError(t, w.Conn.Write(ctx, websocket.MessageBinary, []byte{1, 2, 3}))
	require.False(t, w.ReadError(protocol.CodeInvalidMessage).Fatal)
	w.Send(map[string]any{"type": "ping", "req_id": "still"})
	require.Equal(t, &protocol.Pong{ReqID: "still"}, w.Read())
}

func TestFrameSizeLimit(t *testing.T) {
	s := harness.Start(t, nil)
	w, _ := s.Connect(t, s.Token(t, s.Alice, time.Hour))
	w.Send(map[string]any{"type": "ping", "req_id": strings.Repeat("x", 60<<10)})
	require.IsType(t, &protocol.Pong{}, w.Read())
	w.Send(map[string]any{"type": "ping", "req_id": strings.Repeat("x", 65<<10)})
	e := w.ReadError(protocol.CodeInvalidMessage)
	require.True(t, e.Fatal)
	w.RequireClosed(2 * time.Second)
}

func TestAuthRefresh(t *testing.T) {
	s := harness.Start(t, nil)
	// 4 s: a busy machine still connects and refreshes well before it ends.
	w, _ := s.Connect(t, s.Token(t, s.Alice, 4*time.Second))
	w.Send(map[string]any{"type": "auth.refresh", "req_id": "r1", "token": s.Token(t, s.Alice, time.Hour)})
	require.Equal(t, &protocol.AuthRefreshed{ReqID: "r1"}, w.Read())
	w.Send(map[string]any{"type": "auth.refresh", "req_id": "r2", "token": "junk"})
	e := w.ReadError(protocol.CodeInvalidMessage)
	require.Equal(t, "r2", e.ReqID)
	require.False(t, e.Fatal)
	// Past the first token's expiry the socket lives on the refreshed one.
	_, err := w.ReadTimeout(5 * time.Second)
	require.ErrorIs(t, err, harness.ErrNoFrame)
	w.Send(map[string]any{"type": "ping", "req_id": "alive"})
	require.Equal(t, &protocol.Pong{ReqID: "alive"}, w.Read())
}

func TestAuthRefreshOtherUserKeepsOldExpiry(t *testing.T) {
	s := harness.Start(t, nil)
	exp := time.Now().Add(4 * time.Second).Truncate(time.Second) // 3-4 s: time to connect when busy
	tok, _, err := s.Tokens.MintUntil(&s.Alice, exp)
	require.NoError(t, err)
	w, _ := s.Connect(t, tok)
	w.Send(map[string]any{"type": "auth.refresh", "req_id": "r1", "token": s.Token(t, s.Bob, time.Hour)})
	e := w.ReadError(protocol.CodeInvalidMessage)
	require.Equal(t, "r1", e.ReqID)
	require.Contains(t, e.Message, "another user")
	w.ReadError(protocol.CodeAuthExpired)
	late := time.Since(exp)
	require.Greater(t, late, -50*time.Millisecond, "evicted before the first token's exp")
	require.Less(t, late, 3*time.Second, "evicted %v after exp", late)
	w.RequireClosed(2 * time.Second)
}

func TestExpiryEviction(t *testing.T) {
	s := harness.Start(t, nil)
	exp := time.Now().Add(4 * time.Second).Truncate(time.Second) // 3-4 s: time to connect when busy
	tok, _, err := s.Tokens.MintUntil(&s.Alice, exp)
	require.NoError(t, err)
	w, _ := s.Connect(t, tok)
	e := w.ReadError(protocol.CodeAuthExpired)
	require.True(t, e.Fatal)
	late := time.Since(exp)
	t.Logf("evicted %v after exp", late)
	require.Less(t, late, 3*time.Second, "evicted %v after exp", late)
	require.Greater(t, late, -50*time.Millisecond, "evicted before exp")
	w.RequireClosed(2 * time.Second)
}

func TestRevokeLiveSockets(t *testing.T) {
	s := harness.Start(t, nil)
	w1, _ := s.Connect(t, s.Token(t, s.Bob, time.Hour))
	w2, _ := s.Connect(t, s.Token(t, s.Bob, time.Hour))
	other, _ := s.Connect(t, s.Token(t, s.Alice, time.Hour))
	require.Equal(t, 200, s.Do(t, "POST", "/v1/users/"+string(s.Bob.ID)+"/revoke_sessions", harness.AdminKey, nil).Status)
	for _, w := range []*harness.WS{w1, w2} {
		require.True(t, w.ReadError(protocol.CodeSessionRevoked).Fatal)
		w.RequireClosed(2 * time.Second)
	}
	other.Send(map[string]any{"type": "ping"})
	require.IsType(t, &protocol.Pong{}, other.Read())
}

func TestSessionLimit(t *testing.T) {
	s := harness.Start(t, func(c *config.Config) { c.Signal.SessionLimit = 2 })
	tok := s.Token(t, s.Alice, time.Hour)
	a, _ := s.Connect(t, tok)
	s.Connect(t, tok)
	w, _, err := s.Dial(t)
	require.NoError(t, err)
	w.Send(map[string]any{"type": "authenticate", "token": tok, "req_id": "third"})
	e := w.ReadError(protocol.CodeSessionLimit)
	require.True(t, e.Fatal)
	require.Equal(t, "third", e.ReqID)
	w.RequireClosed(2 * time.Second)
	// Another user is not affected; a freed slot can be reused.
	s.Connect(t, s.Token(t, s.Bob, time.Hour))
	require.NoError(t, a.Conn.Close(websocket.StatusNormalClosure, ""))
	harness.CheckFor(t, 2*time.Second, func() error {
		w, _, err := s.Dial(t)
		if err != nil {
			return err
		}
		w.Send(map[string]any{"type": "authenticate", "token": tok})
		if _, ok := w.Read().(*protocol.Authenticated); !ok {
			return errSessionLimit
		}
		return nil
	})
}

type strErr string

func (e strErr) Error() string { return string(e) }

const errSessionLimit = strErr("still at the session limit")

func TestMissedPong(t *testing.T) {
	s := harness.Start(t, func(c *config.Config) {
		c.Signal.PingInterval = 200 * time.Millisecond
		c.Signal.PongTimeout = 200 * time.Millisecond
	})
	w, _, err := s.Dial(t)
	require.NoError(t, err)
	w.Send(map[string]any{"type": "authenticate", "token": s.Token(t, s.Alice, time.Hour)})
	// Not reading means not answering pings (pongs are sent by the reader).
	time.Sleep(time.Second) // the test is that nothing is read for a while
	require.IsType(t, &protocol.Authenticated{}, w.Read())
	e := w.ReadError(protocol.CodeIdleTimeout)
	require.True(t, e.Fatal)
	w.RequireClosed(2 * time.Second)
}

func TestPingsKeepReadingClientAlive(t *testing.T) {
	s := harness.Start(t, func(c *config.Config) {
		c.Signal.PingInterval = 100 * time.Millisecond
		c.Signal.PongTimeout = 200 * time.Millisecond
	})
	w, _ := s.Connect(t, s.Token(t, s.Alice, time.Hour))
	_, err := w.ReadTimeout(time.Second) // reading answers pings
	require.ErrorIs(t, err, harness.ErrNoFrame)
	w.Send(map[string]any{"type": "ping"})
	require.IsType(t, &protocol.Pong{}, w.Read())
}

// TestSlowConsumer: a client that sends requests and reads nothing is
// kicked with slow_consumer, which it finds after the frames it did not
// read. How many frames that takes depends on the kernel's socket buffers
// (megabytes on loopback), and pushing them under -race on a busy machine
// can take longer than signal.write_timeout, after which the server drops
// the socket with no error frame (a CI run saw the last frame be a pong):
// the test gives the server's blocked writer a minute.
func TestSlowConsumer(t *testing.T) {
	s := harness.Start(t, func(c *config.Config) {
		c.Signal.WriteQueue = 8
		c.Signal.WriteTimeout = time.Minute
	})
	w, _, err := s.Dial(t)
	require.NoError(t, err)
	w.Send(map[string]any{"type": "authenticate", "token": s.Token(t, s.Alice, time.Hour)})
	big := strings.Repeat("y", 60<<10)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	for i := 0; i < 400; i++ {
		frame := `{"type":"ping","req_id":"` + big + `"}`
		if err := w.Conn.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
			break
		}
	}
	var last protocol.Message
	for {
		m, err := w.ReadTimeout(5 * time.Second)
		if err != nil {
			break
		}
		last = m
	}
	e, ok := last.(*protocol.Error)
	require.True(t, ok, "last frame is a %T", last)
	require.Equal(t, protocol.CodeSlowConsumer, e.Code)
	require.True(t, e.Fatal)
}

func TestReconnectResumesSession(t *testing.T) {
	s := harness.Start(t, nil)
	tok := s.Token(t, s.Alice, time.Hour)
	w, a := s.Connect(t, tok)
	require.NoError(t, w.Conn.Close(websocket.StatusNormalClosure, ""))

	w2, _, err := s.Dial(t)
	require.NoError(t, err)
	w2.Send(map[string]any{"type": "authenticate", "token": tok, "session_id": a.SessionID})
	a2 := w2.Read().(*protocol.Authenticated)
	require.True(t, a2.Reconnected)
	require.Equal(t, a.SessionID, a2.SessionID)

	// A newer socket taking over the session replaces the old one.
	w3, _, err := s.Dial(t)
	require.NoError(t, err)
	w3.Send(map[string]any{"type": "authenticate", "token": tok, "session_id": a.SessionID})
	require.True(t, w3.Read().(*protocol.Authenticated).Reconnected)
	require.True(t, w2.ReadError(protocol.CodeSessionReplaced).Fatal)
	w2.RequireClosed(2 * time.Second)

	// Another user cannot take the session: they get a fresh one.
	w4, _, err := s.Dial(t)
	require.NoError(t, err)
	w4.Send(map[string]any{"type": "authenticate", "token": s.Token(t, s.Bob, time.Hour), "session_id": a.SessionID})
	a4 := w4.Read().(*protocol.Authenticated)
	require.False(t, a4.Reconnected)
	require.NotEqual(t, a.SessionID, a4.SessionID)
	w3.Send(map[string]any{"type": "ping"})
	require.IsType(t, &protocol.Pong{}, w3.Read())
}

func TestSessionForgottenAfterGrace(t *testing.T) {
	s := harness.Start(t, func(c *config.Config) { c.Signal.ReconnectGrace = 200 * time.Millisecond })
	tok := s.Token(t, s.Alice, time.Hour)
	w, a := s.Connect(t, tok)
	require.NoError(t, w.Conn.Close(websocket.StatusNormalClosure, ""))
	harness.CheckFor(t, 3*time.Second, func() error {
		if len(s.Hub.UserSessions(s.Alice.ID)) != 0 {
			return strErr("session still held")
		}
		return nil
	})
	w2, _, err := s.Dial(t)
	require.NoError(t, err)
	w2.Send(map[string]any{"type": "authenticate", "token": tok, "session_id": a.SessionID})
	a2 := w2.Read().(*protocol.Authenticated)
	require.False(t, a2.Reconnected)
	require.NotEqual(t, a.SessionID, a2.SessionID)
}

func TestShutdownSendsGoingAway(t *testing.T) {
	s := harness.Start(t, nil)
	w1, _ := s.Connect(t, s.Token(t, s.Alice, time.Hour))
	w2, _ := s.Connect(t, s.Token(t, s.Bob, time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.Shutdown(ctx))
	for _, w := range []*harness.WS{w1, w2} {
		require.True(t, w.ReadError(protocol.CodeGoingAway).Fatal)
		w.RequireClosed(2 * time.Second)
	}
}
