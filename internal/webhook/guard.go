package webhook

import (
	"context"
	"fmt"
	"net"
	"net/netip"
)

// cgnat is the shared address space (RFC 6598), private in practice.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// Forbidden says why a target address may not receive webhooks, or ""
// when it may: loopback, private, link-local, unspecified, multicast and
// shared (CGNAT) addresses are refused.
func Forbidden(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return "invalid"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate(), cgnat.Contains(a):
		return "private"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return "link-local"
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	}
	return ""
}

// guardedDialer dials only addresses that pass Forbidden (unless
// allowPrivate): it resolves the host itself, checks every address, and
// dials a checked one, so DNS cannot swap the target between check and
// dial.
type guardedDialer struct {
	allowPrivate bool
	dialer       net.Dialer
	resolver     *net.Resolver
}

func (g *guardedDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := g.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("resolve %s: no address", host)
	}
	if !g.allowPrivate {
		for _, ip := range ips {
			if why := Forbidden(ip); why != "" {
				return nil, fmt.Errorf("refused: %s resolves to %s address %s (webhooks.allow_private is off)", host, why, ip)
			}
		}
	}
	var last error
	for _, ip := range ips {
		c, err := g.dialer.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}
