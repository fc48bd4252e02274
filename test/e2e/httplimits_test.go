package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// rawConn is a client TCP connection whose closing by the server is seen
// by a reader goroutine.
type rawConn struct {
	net.Conn
	br     *bufio.Reader
	closed chan struct{}
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return &rawConn{Conn: c, br: bufio.NewReader(c), closed: make(chan struct{})}
}

// request sends a GET and reads its response.
func (c *rawConn) request(path, bearer string) (*http.Response, error) {
	req := "GET " + path + " HTTP/1.1\r\nHost: switchboard\r\n"
	if bearer != "" {
		req += "Authorization: Bearer " + bearer + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		return nil, err
	}
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, c.SetReadDeadline(time.Time{})
}

// watch reads (and drops) whatever comes until the server closes.
func (c *rawConn) watch() {
	go func() {
		_, _ = io.Copy(io.Discard, c.br)
		close(c.closed)
	}()
}

func (c *rawConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

func TestHTTPTimeoutsCloseIdleAndSlowConnections(t *testing.T) {
	const timeout = time.Second
	s := harness.Start(t, func(c *config.Config) {
		c.HTTP.ReadHeaderTimeout = timeout
		c.HTTP.ReadTimeout = 2 * timeout
		c.HTTP.WriteTimeout = 2 * timeout
		c.HTTP.IdleTimeout = timeout
		c.HTTP.MaxUnauthenticatedPerSource = 300
	})
	// A signalling socket, authenticated, must outlive every HTTP timeout.
	wsStart := time.Now()
	ws, _ := s.Connect(t, s.Token(t, s.Alice, time.Hour))

	// 100 keep-alive connections that made a request and went idle.
	var conns []*rawConn
	for range 100 {
		c := dialRaw(t, s.Addr())
		resp, err := c.request("/healthz", "")
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode)
		c.watch()
		conns = append(conns, c)
	}
	// 100 connections that send headers and then trickle the body.
	stop := make(chan struct{})
	var trickling sync.WaitGroup
	defer func() { close(stop); trickling.Wait() }()
	for range 100 {
		c := dialRaw(t, s.Addr())
		_, err := io.WriteString(c, "POST /v1/users HTTP/1.1\r\nHost: switchboard\r\nContent-Type: application/json\r\n"+
			"Content-Length: 100000\r\n\r\n{")
		require.NoError(t, err)
		c.watch()
		trickling.Add(1)
		go func() {
			defer trickling.Done()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-c.closed:
					return
				case <-tick.C:
					if _, err := io.WriteString(c, " "); err != nil {
						return
					}
				}
			}
		}()
		conns = append(conns, c)
	}
	opened := time.Now()

	// Every one is closed by the server within its timeout (idle 1 s, whole
	// request 2 s), with slack for a loaded machine.
	harness.CheckFor(t, 2*timeout+3*time.Second, func() error {
		open := 0
		for _, c := range conns {
			if !c.isClosed() {
				open++
			}
		}
		if open > 0 {
			return fmt.Errorf("%d of %d connections still open %v after the last was opened", open, len(conns), time.Since(opened))
		}
		return nil
	})

	// A header block over max_header_bytes is refused.
	big := dialRaw(t, s.Addr())
	_, err := io.WriteString(big, "GET /healthz HTTP/1.1\r\nHost: switchboard\r\nX-Big: "+strings.Repeat("a", 70<<10)+"\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(big.br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)

	// The authenticated socket is still up well past every HTTP timeout
	// (read, write and idle), and answers.
	n := 0
	harness.CheckFor(t, 20*time.Second, func() error {
		n++
		ws.Send(map[string]any{"type": "ping", "req_id": fmt.Sprint(n)})
		require.Equal(t, &protocol.Pong{ReqID: fmt.Sprint(n)}, ws.Read())
		if since := time.Since(wsStart); since < 3*2*timeout {
			return fmt.Errorf("socket up %v", since)
		}
		return nil
	})
}

func TestHTTPCapOnUnauthenticatedConnectionsPerSource(t *testing.T) {
	const limit = 5
	s := harness.Start(t, func(c *config.Config) { c.HTTP.MaxUnauthenticatedPerSource = limit })

	// Authenticated connections do not count: a signalling socket and a
	// keep-alive connection that showed the admin key.
	ws, _ := s.Connect(t, s.Token(t, s.Alice, time.Hour))
	admin := dialRaw(t, s.Addr())
	resp, err := admin.request("/v1/users", harness.AdminKey)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	// A wrong key leaves the connection counted.
	wrong := dialRaw(t, s.Addr())
	resp, err = wrong.request("/v1/users", "not-the-key")
	require.NoError(t, err)
	require.Equal(t, 401, resp.StatusCode)

	var held []*rawConn
	for range limit - 1 {
		c := dialRaw(t, s.Addr())
		resp, err := c.request("/healthz", "")
		require.NoError(t, err, "connection %d of %d", len(held)+1, limit)
		require.Equal(t, 200, resp.StatusCode)
		held = append(held, c)
	}

	// The next one is closed at once: no response at all.
	over := dialRaw(t, s.Addr())
	_, err = over.request("/healthz", "")
	require.Error(t, err)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "refused connections are closed, not left hanging: %v", err)

	// The authenticated ones still work, and a freed place is taken again.
	resp, err = admin.request("/v1/users", harness.AdminKey)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	ws.Send(map[string]any{"type": "ping", "req_id": "p"})
	require.Equal(t, &protocol.Pong{ReqID: "p"}, ws.Read())
	require.NoError(t, held[0].Close())
	harness.CheckFor(t, 5*time.Second, func() error {
		c := dialRaw(t, s.Addr())
		defer c.Close()
		resp, err := c.request("/healthz", "")
		if err != nil {
			return err
		}
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
}

func TestInvalidUTF8FrameIsInvalidMessage(t *testing.T) {
	s := harness.Start(t, nil)
	ws, _ := s.Connect(t, s.Token(t, s.Alice, time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, ws.Conn.Write(ctx, websocket.MessageText, []byte("{\"type\":\"ping\",\"req_id\":\"\xff\xfe\"}")))
	e, ok := ws.Read().(*protocol.Error)
	require.True(t, ok)
	require.Equal(t, protocol.CodeInvalidMessage, e.Code)
	require.Contains(t, e.Message, "UTF-8")
	ws.Send(map[string]any{"type": "ping", "req_id": "after"})
	require.Equal(t, &protocol.Pong{ReqID: "after"}, ws.Read(), "the error is not fatal")
}
