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
	if a.RegisteredIP != ip.String() {
		return nil, nil
	}
	return &emergency.Location{AddressID: string(a.ID), Civic: a.Civic, IP: ip, BoundAt: time.Now()}, nil
}
