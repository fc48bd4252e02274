package webhook

import "time"

// Device kinds of a registration.changed event.
const (
	DeviceSIP     = "sip"     // a desk phone (or SIP app) registered by REGISTER
	DeviceBrowser = "browser" // a WebRTC device session on /v1/webrtc
)

// Registration states of a browser session (SIP contacts use the
// registrar's: registered, unregistered, expired).
const (
	SessionConnected = "connected" // the session's first socket authenticated
	SessionClosed    = "closed"    // the session ended (reconnect grace over, revoked, server stopped)
)

// Registration is the data of a registration.changed event: one device
// of a user that came or went.
type Registration struct {
	Object    string  `json:"object"` // "registration"
	UserID    string  `json:"user_id"`
	AccountID string  `json:"account_id"`
	Device    string  `json:"device"` // sip or browser
	State     string  `json:"state"`
	Contact   string  `json:"contact,omitempty"`    // sip: the Contact URI
	SessionID string  `json:"session_id,omitempty"` // browser: the session
	Transport string  `json:"transport"`            // udp, tcp, tls, ws, wss; websocket for browser sessions
	Source    string  `json:"source,omitempty"`     // where the REGISTER or socket came from
	ExpiresAt *string `json:"expires_at,omitempty"` // sip, while registered
}

// PresenceSummary is a user's status and what they set.
type PresenceSummary struct {
	Status       string `json:"status"` // available, on_call, offline
	DoNotDisturb bool   `json:"do_not_disturb"`
	StatusText   string `json:"status_text"`
}

// Presence is the data of a presence.changed event.
type Presence struct {
	Object    string `json:"object"` // "presence"
	UserID    string `json:"user_id"`
	AccountID string `json:"account_id"`
	Name      string `json:"name"`
	Extension string `json:"extension"`
	PresenceSummary
	UpdatedAt string          `json:"updated_at"`
	Previous  PresenceSummary `json:"previous"`
}

// RFC3339 formats t as event data does.
func RFC3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
