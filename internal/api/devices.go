package api

import (
	"context"
	"net/http"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

// UserDevices lists a user's live devices on this node: its WebSocket
// device sessions and its SIP registrations.
type UserDevices interface {
	UserDevices(ctx context.Context, user ident.UserID) []Device
}

// Device kinds.
const (
	DeviceWebRTC = "webrtc" // a WebSocket device session (protocol v1)
	DeviceSIP    = "sip"    // a SIP registration (desk phone, SIP over WebSocket)
)

// Device is one live device of a user.
type Device struct {
	Kind      string // DeviceWebRTC or DeviceSIP
	UserAgent string
	Source    string // the address the device connects or registered from
	// WebRTC: the session, when it began, and whether its socket is up
	// (false: detached, within its reconnect grace).
	SessionID   ident.SessionID
	ConnectedAt time.Time
	Connected   bool
	// SIP: the registered contact, its transport and expiry.
	Contact   string
	Transport string
	ExpiresAt time.Time
}

type deviceJSON struct {
	Object      string  `json:"object"`
	Kind        string  `json:"kind"`
	UserAgent   string  `json:"user_agent"`
	Source      string  `json:"source"`
	NodeID      *string `json:"node_id"`
	SessionID   string  `json:"session_id,omitempty"`
	State       string  `json:"state,omitempty"`
	ConnectedAt string  `json:"connected_at,omitempty"`
	Contact     string  `json:"contact,omitempty"`
	Transport   string  `json:"transport,omitempty"`
	ExpiresAt   string  `json:"expires_at,omitempty"`
}

func (a *API) deviceView(d Device) deviceJSON {
	out := deviceJSON{Object: "device", Kind: d.Kind, UserAgent: d.UserAgent, Source: d.Source}
	if a.NodeID != "" {
		out.NodeID = &a.NodeID
	}
	switch d.Kind {
	case DeviceWebRTC:
		out.SessionID, out.ConnectedAt, out.State = string(d.SessionID), rfc3339(d.ConnectedAt), "detached"
		if d.Connected {
			out.State = "connected"
		}
	case DeviceSIP:
		out.Contact, out.Transport, out.ExpiresAt = d.Contact, d.Transport, rfc3339(d.ExpiresAt)
	}
	return out
}

// listUserDevices is GET /v1/users/{id}/devices: the user's devices on
// this node (in a cluster, each node lists its own).
func (a *API) listUserDevices(r *http.Request) (int, any, error) {
	u, err := a.Store.GetUser(r.Context(), ident.UserID(r.PathValue("id")))
	if err != nil {
		return 0, nil, userNotFound(r, err)
	}
	out := listJSON[deviceJSON]{Object: "list", Data: []deviceJSON{}}
	if a.Devices == nil {
		return http.StatusOK, out, nil
	}
	for _, d := range a.Devices.UserDevices(r.Context(), u.ID) {
		out.Data = append(out.Data, a.deviceView(d))
	}
	return http.StatusOK, out, nil
}
