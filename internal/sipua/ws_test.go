package sipua

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOffersSubprotocol(t *testing.T) {
	for _, tt := range []struct {
		values []string
		want   bool
	}{
		{nil, false},
		{[]string{"sip"}, true},
		{[]string{"dialstack.webrtc.v1, sip"}, true},
		{[]string{"chat", " sip "}, true},
		{[]string{"SIP"}, false}, // subprotocol names are case-sensitive
		{[]string{"sips"}, false},
	} {
		h := http.Header{}
		for _, v := range tt.values {
			h.Add("Sec-WebSocket-Protocol", v)
		}
		require.Equal(t, tt.want, offersSubprotocol(h, "sip"), "%q", tt.values)
	}
}

// The replayed head parses back to the request net/http read.
func TestRequestHeadRoundTrip(t *testing.T) {
	raw := "GET /v1/sip?x=1 HTTP/1.1\r\nHost: pbx.example:8443\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n"
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewBufferString(raw)))
	require.NoError(t, err)
	again, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(requestHead(r))))
	require.NoError(t, err)
	require.Equal(t, r.Method, again.Method)
	require.Equal(t, r.RequestURI, again.RequestURI)
	require.Equal(t, r.Host, again.Host)
	require.Equal(t, r.Header, again.Header)
}

func TestHandoffListenerClosed(t *testing.T) {
	l := newHandoffListener()
	a, b := net.Pipe()
	defer b.Close()
	handed := make(chan bool)
	go func() { handed <- l.hand(a) }()
	c, err := l.Accept()
	require.NoError(t, err)
	require.Same(t, a, c)
	require.True(t, <-handed)
	require.NoError(t, l.Close())
	require.NoError(t, l.Close()) // idempotent
	_, err = l.Accept()
	require.ErrorIs(t, err, net.ErrClosed)
	require.False(t, l.hand(a))
}
