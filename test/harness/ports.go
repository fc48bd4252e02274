package harness

import (
	"math/rand/v2"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
)

// Ports handed to peers (baresip, sipp) and to servers started on a fixed
// address come from [20100, 20990): above the servers' media range
// (10000-20000, where baresip's RTP is also kept), below sipp's media ports
// (21000-32003) and the kernel's ephemeral range (32768 up), so no
// outgoing connection of any process can take one between FreePort
// closing it and the peer binding it (a fresh-clone CI run lost baresip's
// TCP listener that way). Each test process starts at a random place in
// the range, so parallel test binaries rarely meet, and every port is
// still tried before it is handed out. Only even ports are handed out,
// leaving each odd neighbour to a peer that takes port+1 too (baresip
// listens for SIP over TLS there).
const peerLow, peerHigh = 20100, 20990

var peerNext atomic.Uint32

func init() { peerNext.Store(uint32(rand.IntN(peerHigh - peerLow))) }

// FreePort returns a port on ip that is free for network: "udp", "tcp", or
// "udp+tcp" (free for both at once, for a peer that listens on both). The
// port is closed again before FreePort returns: the peer that is given it
// must bind it soon. A server under test listens on port 0 instead.
func FreePort(t testing.TB, network, ip string) int {
	t.Helper()
	switch network {
	case "tcp", "udp", "udp+tcp":
	default:
		t.Fatalf("FreePort: unknown network %q", network)
	}
	for range 200 {
		// Even ports only: baresip also listens for TLS on port+1.
		port := peerLow + 2*(int(peerNext.Add(1))%((peerHigh-peerLow)/2))
		if bindable(network, net.JoinHostPort(ip, strconv.Itoa(port))) {
			return port
		}
	}
	t.Fatalf("FreePort: no port on %s free for %s in [%d, %d)", ip, network, peerLow, peerHigh)
	return 0
}

// bindable reports whether addr can be bound for each of network's parts.
func bindable(network, addr string) bool {
	if network != "tcp" {
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			return false
		}
		defer u.Close()
	}
	if network != "udp" {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return false
		}
		defer l.Close()
	}
	return true
}

// FreeAddr returns a free TCP host:port on 127.0.0.1.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t, "tcp", "127.0.0.1")))
}
