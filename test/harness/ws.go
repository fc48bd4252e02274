package harness

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// WS is a raw protocol client: it sends frames and reads them one by one.
type WS struct {
	t    testing.TB
	Conn *websocket.Conn

	once   sync.Once
	frames chan frame
}

type frame struct {
	data []byte
	err  error
}

// Dial opens the signalling socket with the given subprotocols.
func (s *Server) Dial(t testing.TB, subprotocols ...string) (*WS, *http.Response, error) {
	t.Helper()
	if subprotocols == nil {
		subprotocols = []string{protocol.Subprotocol}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, s.WebSocketURL(), &websocket.DialOptions{Subprotocols: subprotocols})
	if err != nil {
		return nil, resp, err
	}
	c.SetReadLimit(1 << 20)
	w := &WS{t: t, Conn: c, frames: make(chan frame, 1024)}
	t.Cleanup(func() { _ = c.CloseNow() })
	return w, resp, nil
}

// Connect dials and authenticates with token, returning the client and the
// authenticated frame.
func (s *Server) Connect(t testing.TB, token string) (*WS, *protocol.Authenticated) {
	t.Helper()
	w, _, err := s.Dial(t)
	require.NoError(t, err)
	w.Send(map[string]any{"type": "authenticate", "token": token})
	m := w.Read()
	a, ok := m.(*protocol.Authenticated)
	require.True(t, ok, "want authenticated, got %#v", m)
	return w, a
}

// Send writes v (a map, struct or raw string) as a text frame.
func (w *WS) Send(v any) {
	w.t.Helper()
	var data []byte
	switch b := v.(type) {
	case string:
		data = []byte(b)
	case protocol.Message:
		var err error
		data, err = protocol.Encode(b)
		require.NoError(w.t, err)
	default:
		var err error
		data, err = json.Marshal(v)
		require.NoError(w.t, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(w.t, w.Conn.Write(ctx, websocket.MessageText, data))
}

// startReading runs one reader for the socket's life, from the first read
// on (until then the client answers no pings: some tests want that). A
// reader is needed because a read context that expires closes the socket.
func (w *WS) startReading() {
	w.once.Do(func() {
		go func() {
			for {
				_, data, err := w.Conn.Read(context.Background())
				w.frames <- frame{data, err}
				if err != nil {
					close(w.frames)
					return
				}
			}
		}()
	})
}

// ErrNoFrame is returned by ReadTimeout when nothing arrived in time.
var ErrNoFrame = errors.New("no frame in time")

// ReadTimeout reads one frame within d.
func (w *WS) ReadTimeout(d time.Duration) (protocol.Message, error) {
	w.startReading()
	select {
	case f, ok := <-w.frames:
		if !ok {
			return nil, net.ErrClosed
		}
		if f.err != nil {
			return nil, f.err
		}
		return protocol.DecodeServer(f.data)
	case <-time.After(d):
		return nil, ErrNoFrame
	}
}

// Read reads one frame within 10 s (a busy machine is slow, never that
// slow) or fails the test.
func (w *WS) Read() protocol.Message {
	w.t.Helper()
	m, err := w.ReadTimeout(10 * time.Second)
	require.NoError(w.t, err)
	return m
}

// ReadError reads a frame that must be an error with code.
func (w *WS) ReadError(code protocol.ErrorCode) *protocol.Error {
	w.t.Helper()
	m := w.Read()
	e, ok := m.(*protocol.Error)
	require.True(w.t, ok, "want error %s, got %#v", code, m)
	require.Equal(w.t, code, e.Code, e.Message)
	return e
}

// RequireClosed checks the server closed the socket within d.
func (w *WS) RequireClosed(d time.Duration) {
	w.t.Helper()
	_, err := w.ReadTimeout(d)
	require.Error(w.t, err)
	require.NotErrorIs(w.t, err, ErrNoFrame, "socket still open")
}
