package webhook

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The Standard Webhooks reference vector.
func TestSignVector(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	body := []byte(`{"test": 2432232314}`)
	sig, err := Sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
	require.NoError(t, err)
	require.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", sig)
	require.True(t, Verify(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, "v1,bm9wZQ== "+sig))
	require.False(t, Verify(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body, sig))
	require.False(t, Verify(secret, "msg_other", 1614265330, body, sig))
	_, err = Sign("nope", "id", 1, body)
	require.ErrorIs(t, err, ErrBadSecret)
	_, err = Sign("whsec_!!!", "id", 1, body)
	require.ErrorIs(t, err, ErrBadSecret)
}

func TestNewSecret(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	require.NotEqual(t, a, b)
	key, err := secretKey(a)
	require.NoError(t, err)
	require.Len(t, key, 32)
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		attempts int
		want     time.Duration
	}{
		{1, 10 * time.Second}, {2, 20 * time.Second}, {3, 40 * time.Second}, {6, 320 * time.Second},
		{9, 2560 * time.Second}, {10, time.Hour}, {40, time.Hour}, {0, 10 * time.Second},
	} {
		require.Equal(t, tc.want, Backoff(10*time.Second, time.Hour, tc.attempts), "attempts %d", tc.attempts)
	}
}

func TestForbidden(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"127.0.0.1", "loopback"},
		{"127.1.2.3", "loopback"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"10.1.2.3", "private"},
		{"172.16.0.1", "private"},
		{"192.168.1.1", "private"},
		{"100.64.0.1", "private"},
		{"fd00::1", "private"},
		{"169.254.169.254", "link-local"},
		{"fe80::1", "link-local"},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"224.0.0.1", "link-local"},
		{"239.1.1.1", "multicast"},
		{"8.8.8.8", ""},
		{"2001:4860:4860::8888", ""},
		{"172.32.0.1", ""},
	} {
		require.Equal(t, tc.want, Forbidden(netip.MustParseAddr(tc.addr)), tc.addr)
	}
	require.Equal(t, "invalid", Forbidden(netip.Addr{}))
}

// The dialer checks the resolved addresses, not the name.
func TestGuardedDialerRefusesLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	g := &guardedDialer{resolver: net.DefaultResolver}
	_, err = g.DialContext(context.Background(), "tcp", net.JoinHostPort("localhost", port))
	require.ErrorContains(t, err, "loopback")
	g.allowPrivate = true
	c, err := g.DialContext(context.Background(), "tcp", net.JoinHostPort("127.0.0.1", port))
	require.NoError(t, err)
	c.Close()
}
