package call

import (
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

// Party is the signalling side of a leg: how the call tells whatever is at
// the far end what happened. Device sessions are translated to protocol
// frames (internal/callwire), SIP legs to SIP (internal/sipua). The actor
// only calls these methods, on its own goroutine: they must not block.
type Party interface {
	// Key identifies the party among a call's legs (a session id, a dialog id).
	Key() string
	// Kind is "webrtc" or "sip", for call records.
	Kind() string
	// Incoming alerts a callee with the server's offer.
	Incoming(info Info, offer string)
	// Answer delivers the server's SDP answer to the party's offer.
	Answer(sdp string)
	// Ringing tells a caller the far end is alerting.
	Ringing()
	// Answered tells the party the call is connected.
	Answered(at time.Time)
	// Held and Resumed report hold changes from this party's point of view.
	Held(by HeldBy)
	Resumed()
	// Ended is the last thing a party hears; duration is nil when the call
	// was never answered.
	Ended(reason EndReason, duration *int)
	// Refused answers a request of the party that the call did not accept.
	Refused(r Refusal)
	// Restored describes the call after the party's session resumed.
	Restored(r Restored)
	// NewMedia makes the party's media endpoint.
	NewMedia(m Media, id ident.LegID) (LegMedia, error)
}

// Info is what a callee is told about an incoming call.
type Info struct {
	From, FromName, To string
}
