package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// silentConn is a socket whose network can vanish: after silence, nothing
// more reaches either side and closing it locally sends no FIN, as when a
// laptop moves from Wi-Fi to LTE. The real socket is closed with the test.
// A pump goroutine reads the real socket into its own buffers, so nothing
// it reads late can land in a buffer the caller has moved on with.
type silentConn struct {
	net.Conn
	once   sync.Once
	silent chan struct{}
	chunks chan []byte // closed when the real socket fails
	rest   []byte      // Read's: what is left of the last chunk
}

func newSilentConn(c net.Conn) *silentConn {
	s := &silentConn{Conn: c, silent: make(chan struct{}), chunks: make(chan []byte)}
	go s.pump()
	return s
}

func (c *silentConn) pump() {
	defer close(c.chunks)
	for {
		buf := make([]byte, 32<<10)
		n, err := c.Conn.Read(buf)
		if n > 0 {
			select {
			case c.chunks <- buf[:n]:
			case <-c.silent:
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (c *silentConn) Read(b []byte) (int, error) {
	if len(c.rest) == 0 {
		select {
		case chunk, ok := <-c.chunks:
			if !ok {
				return 0, io.EOF
			}
			c.rest = chunk
		case <-c.silent:
			return 0, net.ErrClosed
		}
	}
	select {
	case <-c.silent:
		return 0, net.ErrClosed // what arrives after the network went is lost
	default:
	}
	n := copy(b, c.rest)
	c.rest = c.rest[n:]
	return n, nil
}

func (c *silentConn) Write(b []byte) (int, error) {
	select {
	case <-c.silent:
		return len(b), nil // into the void
	default:
		return c.Conn.Write(b)
	}
}

func (c *silentConn) Close() error {
	c.goSilent()
	return nil // no FIN: the server is not told
}

func (c *silentConn) goSilent() { c.once.Do(func() { close(c.silent) }) }

// firstSocketFails is an HTTP client whose first connection loses its
// network when told (silentConn) while later ones work; first returns
// that connection once it is made.
func firstSocketFails(t *testing.T) (*http.Client, func() *silentConn) {
	var mu sync.Mutex
	var first *silentConn
	dialer := &net.Dialer{}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		if first == nil { // only the first socket loses its network
			first = newSilentConn(c)
			t.Cleanup(func() { c.Close() })
			return first, nil
		}
		return c, nil
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}, func() *silentConn {
		mu.Lock()
		defer mu.Unlock()
		return first
	}
}

// TestDropInResumeOverAStaleSocket: the server still believes the old
// socket is up when the client re-authenticates without session_id over
// its new network. It pings the old socket, gets no answer within 2 s,
// and hands its session over: the call stays the client's.
func TestDropInResumeOverAStaleSocket(t *testing.T) {
	s := harness.Start(t, nil)
	client, first := firstSocketFails(t)
	bob, err := softphone.Connect(harness.Ctx(t, 10*time.Second), softphone.Config{URL: s.WebSocketURL(),
		Token: s.Token(t, s.Bob, time.Hour), Source: audio.NewTone(1000, softphone.SourceRate, 0.3), Codec: audio.Opus, HTTPClient: client})
	require.NoError(t, err)
	t.Cleanup(func() { _ = bob.Close() })
	alice := s.Phone(t, s.Alice, 440, "")
	out, in := harness.Connected(t, alice, bob, "102")
	harness.HearsTone(t, in, 440)
	sessionID := bob.SessionID()

	first().goSilent()
	bob.DropConnection()
	require.True(t, s.Hub.Session(ident.SessionID(sessionID)).Connected(), "the server did not see the drop")
	start := time.Now()
	require.NoError(t, bob.ReconnectWithoutSession(harness.Ctx(t, 10*time.Second)))
	took := time.Since(start)
	t.Logf("re-authenticated over a stale socket in %v", took.Round(time.Millisecond))
	require.True(t, bob.Reconnected())
	require.Equal(t, sessionID, bob.SessionID())
	require.Less(t, took, 5*time.Second)

	require.NoError(t, in.Hold())
	require.Equal(t, protocol.HeldLocal, heldBy(t, harness.Wait(t, in, protocol.TypeCallHeld)))
	require.NoError(t, in.Resume())
	harness.Wait(t, in, protocol.TypeCallResumed)
	out.Detector().Reset()
	harness.HearsTone(t, out, 1000)
	noErrors(t, bob, in)
	require.NoError(t, in.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
}

// A second device of the same user whose socket answers keeps its session:
// a new client without session_id is another device, not a take-over.
func TestDropInNoTakeOverOfALiveSocket(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	out, in := harness.Connected(t, alice, bob, "102")
	harness.HearsTone(t, in, 440)
	other := s.Phone(t, s.Bob, 0, "")
	require.False(t, other.Reconnected())
	require.NotEqual(t, bob.SessionID(), other.SessionID())
	require.NoError(t, in.Hold()) // the first device still controls its call
	harness.Wait(t, in, protocol.TypeCallHeld)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, in, protocol.EndHangup)
}
