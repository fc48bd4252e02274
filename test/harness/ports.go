package harness

import (
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// FreePort returns a port on ip that is free for network: "udp", "tcp", or
// "udp+tcp" (free for both at once, for a peer that listens on both). The
// port is closed again before FreePort returns: the peer that is given it
// must bind it soon. A server under test listens on port 0 instead.
func FreePort(t testing.TB, network, ip string) int {
	t.Helper()
	switch network {
	case "tcp":
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		require.NoError(t, err)
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	case "udp", "udp+tcp":
	default:
		t.Fatalf("FreePort: unknown network %q", network)
	}
	for range 20 {
		u, err := net.ListenPacket("udp", net.JoinHostPort(ip, "0"))
		require.NoError(t, err)
		port := u.LocalAddr().(*net.UDPAddr).Port
		if network == "udp" {
			u.Close()
			return port
		}
		l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
		u.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatalf("FreePort: no port on %s free for both UDP and TCP", ip)
	return 0
}

// FreeAddr returns a free TCP address on 127.0.0.1, as host:port.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t, "tcp", "127.0.0.1")))
}
