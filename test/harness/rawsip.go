package harness

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/require"
)

// RawSIP sends SIP messages as bytes, the way an attacker (or a torture
// test) does, over UDP or TCP from a chosen loopback address, and reads
// what comes back.
type RawSIP struct {
	Network string // "udp" or "tcp"
	conn    net.Conn
	r       *bufio.Reader
}

// DialRawSIP connects from localIP (a 127.0.0.0/8 address; port 0) to
// server over network.
func DialRawSIP(t testing.TB, network, localIP, server string) *RawSIP {
	t.Helper()
	var laddr net.Addr = &net.UDPAddr{IP: net.ParseIP(localIP)}
	if network == "tcp" {
		laddr = &net.TCPAddr{IP: net.ParseIP(localIP)}
	}
	d := net.Dialer{LocalAddr: laddr, Timeout: 5 * time.Second}
	c, err := d.Dial(network, server)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &RawSIP{Network: network, conn: c, r: bufio.NewReaderSize(c, 1<<16)}
}

// LocalAddr is the client's address (host:port) for Via and Contact.
func (c *RawSIP) LocalAddr() string { return c.conn.LocalAddr().String() }

// Transport is the Via transport token.
func (c *RawSIP) Transport() string { return strings.ToUpper(c.Network) }

// Send writes msg as is.
func (c *RawSIP) Send(t testing.TB, msg []byte) {
	t.Helper()
	_, err := c.conn.Write(msg)
	require.NoError(t, err)
}

// Write writes msg as is and returns the error (for a goroutine other
// than the test's, such as one answering the server's requests).
func (c *RawSIP) Write(msg []byte) error {
	_, err := c.conn.Write(msg)
	return err
}

// SendMsg writes a message written with "\n" line ends: they become CRLF,
// and Content-Length is set to the body's length.
func (c *RawSIP) SendMsg(t testing.TB, msg string) {
	t.Helper()
	c.Send(t, BuildSIP(msg))
}

// BuildSIP turns a message written with "\n" line ends into wire form:
// CRLF line ends and a Content-Length (replacing any "Content-Length: *"
// line, appended when there is none) that matches the body.
func BuildSIP(msg string) []byte {
	head, body, _ := strings.Cut(strings.TrimLeft(msg, "\n"), "\n\n")
	var lines []string
	hasCL := false
	for _, l := range strings.Split(head, "\n") {
		if l == "Content-Length: *" {
			l, hasCL = "Content-Length: "+strconv.Itoa(len(body)), true
		} else if strings.HasPrefix(strings.ToLower(l), "content-length:") {
			hasCL = true
		}
		lines = append(lines, l)
	}
	if !hasCL {
		lines = append(lines, "Content-Length: "+strconv.Itoa(len(body)))
	}
	return []byte(strings.Join(lines, "\r\n") + "\r\n\r\n" + body)
}

// ErrNoMessage is Read's error when nothing arrived in time.
var ErrNoMessage = errors.New("no SIP message in time")

// Read returns the next message (response or request) within d.
func (c *RawSIP) Read(d time.Duration) (sip.Message, error) {
	if err := c.conn.SetReadDeadline(time.Now().Add(d)); err != nil {
		return nil, err
	}
	var data []byte
	if c.Network == "udp" {
		buf := make([]byte, 1<<16)
		n, err := c.conn.Read(buf)
		if err != nil {
			return nil, timeoutAs(err)
		}
		data = buf[:n]
	} else {
		var err error
		if data, err = c.readStream(); err != nil {
			return nil, timeoutAs(err)
		}
	}
	return sip.ParseMessage(data)
}

func timeoutAs(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ErrNoMessage
	}
	return err
}

// readStream reads one message from a stream: headers to the blank line,
// then Content-Length bytes. Keep-alive CRLFs are skipped.
func (c *RawSIP) readStream() ([]byte, error) {
	var head bytes.Buffer
	length := 0
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if head.Len() == 0 && strings.TrimSpace(line) == "" {
			continue
		}
		head.WriteString(line)
		if strings.TrimSpace(line) == "" {
			break
		}
		name, v, ok := strings.Cut(line, ":")
		if n := strings.ToLower(strings.TrimSpace(name)); ok && (n == "content-length" || n == "l") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(c.r, body); err != nil {
		return nil, err
	}
	return append(head.Bytes(), body...), nil
}

// Response reads until the final response for the request whose Call-ID
// and CSeq method match, within d; anything else in between is skipped.
func (c *RawSIP) Response(t testing.TB, callID string, method sip.RequestMethod, d time.Duration) *sip.Response {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		require.Positive(t, left, "no final response to %s %s", method, callID)
		msg, err := c.Read(left)
		require.NoError(t, err, "waiting for the response to %s %s", method, callID)
		res, ok := msg.(*sip.Response)
		if !ok || res.CallID() == nil || res.CallID().Value() != callID || res.CSeq() == nil || res.CSeq().MethodName != method {
			continue
		}
		if res.StatusCode >= 200 {
			return res
		}
	}
}

// NoMessage fails when any message arrives within d.
func (c *RawSIP) NoMessage(t testing.TB, d time.Duration) {
	t.Helper()
	msg, err := c.Read(d)
	if err == nil {
		t.Fatalf("unexpected message:\n%s", msg.String())
	}
	require.ErrorIs(t, err, ErrNoMessage)
}

// Close closes the connection.
func (c *RawSIP) Close() error { return c.conn.Close() }

// SIPAlive checks that the server at addr answers an OPTIONS over UDP
// and over TCP: it did not die of what a test sent.
func SIPAlive(t testing.TB, addr string) {
	t.Helper()
	for _, network := range []string{"udp", "tcp"} {
		c := DialRawSIP(t, network, "127.0.0.1", addr)
		callID := fmt.Sprintf("alive-%d@127.0.0.1", time.Now().UnixNano())
		c.SendMsg(t, fmt.Sprintf(`OPTIONS sip:%s SIP/2.0
Via: SIP/2.0/%s %s;branch=z9hG4bK-%s;rport
Max-Forwards: 70
From: <sip:probe@127.0.0.1>;tag=probe
To: <sip:%s>
Call-ID: %s
CSeq: 1 OPTIONS

`, addr, c.Transport(), c.LocalAddr(), callID, addr, callID))
		res := c.Response(t, callID, sip.OPTIONS, 5*time.Second)
		require.Equal(t, 200, res.StatusCode, "the server answers OPTIONS over %s", network)
		c.Close()
	}
}
