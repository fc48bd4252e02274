package httplimit

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// accepted dials l and returns the server's side of the connection, or nil
// when the listener refused it (the client then reads EOF).
func dialAccepted(t *testing.T, l *Listener, accepted <-chan net.Conn) (client, server net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	select {
	case s := <-accepted:
		return c, s
	case <-time.After(5 * time.Second):
		t.Fatal("no accept")
	}
	return nil, nil
}

func TestListenerCapsUnauthenticatedPerSource(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := NewListener(raw, 2, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer l.Close()
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()

	_, s1 := dialAccepted(t, l, accepted)
	_, s2 := dialAccepted(t, l, accepted)
	require.Equal(t, 2, l.Unauthenticated("127.0.0.1"))

	// The third is closed by the listener: the client reads EOF.
	c3, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer c3.Close()
	require.NoError(t, c3.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = c3.Read(make([]byte, 1))
	require.True(t, errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err), "got %v", err)
	require.Equal(t, uint64(1), l.Refused())

	// Authenticating one frees its place, and is idempotent with Close.
	MarkAuthenticated(ConnContext(context.Background(), s1))
	MarkAuthenticated(ConnContext(context.Background(), s1))
	require.Equal(t, 1, l.Unauthenticated("127.0.0.1"))
	_, s4 := dialAccepted(t, l, accepted)
	require.NoError(t, s1.Close())
	require.Equal(t, 2, l.Unauthenticated("127.0.0.1"))

	// Closing frees a place once.
	require.NoError(t, s2.Close())
	_ = s2.Close()
	require.Equal(t, 1, l.Unauthenticated("127.0.0.1"))
	require.NoError(t, s4.Close())
	require.Equal(t, 0, l.Unauthenticated("127.0.0.1"))
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

func TestMarkWithoutConnection(t *testing.T) {
	MarkAuthenticated(context.Background()) // no panic
	ctx := ConnContext(context.Background(), &net.TCPConn{})
	MarkAuthenticated(ctx)
}
