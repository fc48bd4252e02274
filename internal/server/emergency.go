package server

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/switchboard-voice/switchboard/internal/emergency"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// locator binds emergency addresses for the signalling hub: an address
// with no network takes the socket's; one bound to the socket's network is
// reused; one bound elsewhere, or not the user's, binds nothing.
type locator struct{ st store.EmergencyAddresses }

func (l locator) BindLocation(ctx context.Context, user ident.UserID, id string, ip netip.Addr) (*emergency.Location, error) {
	a, err := l.st.BindEmergencyAddress(ctx, user, ident.EmergencyAddressID(id), ip.String())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !sameNetwork(a.RegisteredIP, ip) {
		return nil, nil
	}
	return &emergency.Location{AddressID: string(a.ID), Civic: a.Civic, IP: ip, BoundAt: time.Now()}, nil
}

// CurrentLocation re-reads loc's address: nil when it was deleted, or its
// binding cleared or moved to another network.
func (l locator) CurrentLocation(ctx context.Context, user ident.UserID, loc *emergency.Location) (*emergency.Location, error) {
	a, err := l.st.GetEmergencyAddress(ctx, user, ident.EmergencyAddressID(loc.AddressID))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if a.RegisteredIP == "" || !sameNetwork(a.RegisteredIP, loc.IP) {
		return nil, nil
	}
	return &emergency.Location{AddressID: string(a.ID), Civic: a.Civic, IP: loc.IP, BoundAt: loc.BoundAt}, nil
}

// sameNetwork reports whether ip is on the network registered names: the
// same IPv4 address, or the same IPv6 /64 (devices rotate temporary IPv6
// addresses within their /64 every day or so).
func sameNetwork(registered string, ip netip.Addr) bool {
	r, err := netip.ParseAddr(registered)
	if err != nil {
		return false
	}
	r, ip = r.Unmap(), ip.Unmap()
	if r.Is4() || ip.Is4() {
		return r == ip
	}
	a, _ := r.Prefix(64)
	b, _ := ip.Prefix(64)
	return a == b
}
