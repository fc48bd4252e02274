package protocol

// Message is any frame body. Its wire "type" comes from MessageType; the
// struct holds the other fields.
type Message interface {
	MessageType() Type
}

// Client → server messages.

// Authenticate is the first frame of every socket.
type Authenticate struct {
	ReqID              string `json:"req_id,omitempty"`
	Token              string `json:"token"`
	SessionID          string `json:"session_id,omitempty"`
	EmergencyAddressID string `json:"emergency_address_id,omitempty"`
	// Features lists the optional server frames the client wants
	// (FeatureQuality); unknown names are ignored.
	Features []string `json:"features,omitempty"`
}

// Optional features a client may ask for in Authenticate.Features.
const (
	// FeatureQuality: send CallQuality every 5 s for each of the
	// session's connected calls.
	FeatureQuality = "quality"
)

// HasFeature reports whether the client asked for feature f.
func (m *Authenticate) HasFeature(f string) bool {
	for _, x := range m.Features {
		if x == f {
			return true
		}
	}
	return false
}

// AuthRefresh swaps in a fresh token for the same user.
type AuthRefresh struct {
	ReqID string `json:"req_id,omitempty"`
	Token string `json:"token"`
}

// Ping asks for a Pong.
type Ping struct {
	ReqID string `json:"req_id,omitempty"`
}

// CallCreate places a call; SDP is the device's full offer.
type CallCreate struct {
	ReqID       string `json:"req_id,omitempty"`
	Destination string `json:"destination"`
	SDP         string `json:"sdp"`
	CallerID    string `json:"caller_id,omitempty"`
}

// CallAnswer accepts an inbound call; an sdp.answer follows.
type CallAnswer struct {
	CallID string `json:"call_id"`
}

// CallReject declines a ringing inbound call.
type CallReject struct {
	CallID string       `json:"call_id"`
	Reason RejectReason `json:"reason,omitempty"`
}

// CallHangup ends a call in any state.
type CallHangup struct {
	CallID string `json:"call_id"`
}

// CallHold holds an active call.
type CallHold struct {
	CallID string `json:"call_id"`
}

// CallResume resumes a call this side held.
type CallResume struct {
	CallID string `json:"call_id"`
}

// CallMute silences this device's audio at the server.
type CallMute struct {
	CallID string `json:"call_id"`
}

// CallUnmute undoes CallMute.
type CallUnmute struct {
	CallID string `json:"call_id"`
}

// CallTransfer blind-transfers the other party to Destination.
type CallTransfer struct {
	CallID      string `json:"call_id"`
	Destination string `json:"destination"`
}

// CallTransferAttended consults or completes an attended transfer.
type CallTransferAttended struct {
	ReqID       string       `json:"req_id,omitempty"`
	CallID      string       `json:"call_id"`
	Step        TransferStep `json:"step"`
	Destination string       `json:"destination,omitempty"`
	SDP         string       `json:"sdp,omitempty"`
}

// SDPOffer carries an offer: the server's for inbound calls, the client's
// for a re-offer (ICE restart).
type SDPOffer struct {
	CallID string `json:"call_id"`
	SDP    string `json:"sdp"`
}

// SDPAnswer carries an answer, either way.
type SDPAnswer struct {
	CallID string `json:"call_id"`
	SDP    string `json:"sdp"`
}

// ICECandidate is one trickled candidate, either way.
type ICECandidate struct {
	CallID        string `json:"call_id"`
	Candidate     string `json:"candidate"`
	SDPMid        string `json:"sdp_mid"`
	SDPMLineIndex uint16 `json:"sdp_m_line_index"`
}

// ICEDone ends a candidate trickle, either way.
type ICEDone struct {
	CallID string `json:"call_id"`
}

// PresenceSubscribe watches up to 100 users.
type PresenceSubscribe struct {
	ReqID string   `json:"req_id,omitempty"`
	Users []string `json:"users"`
}

// Server → client messages.

// Authenticated confirms a session.
type Authenticated struct {
	ReqID       string `json:"req_id,omitempty"`
	UserID      string `json:"user_id"`
	AccountID   string `json:"account_id"`
	SessionID   string `json:"session_id"`
	Reconnected bool   `json:"reconnected"`
}

// AuthRefreshed confirms a token swap.
type AuthRefreshed struct {
	ReqID string `json:"req_id,omitempty"`
}

// Pong answers Ping.
type Pong struct {
	ReqID string `json:"req_id,omitempty"`
}

// Error reports a failure; Fatal means the socket closes right after.
type Error struct {
	Code    ErrorCode      `json:"code"`
	Message string         `json:"message"`
	ReqID   string         `json:"req_id,omitempty"`
	CallID  string         `json:"call_id,omitempty"`
	Fatal   bool           `json:"fatal,omitempty"`
	Context map[string]any `json:"context,omitempty"`
}

// CallTrying binds a request to its new call id.
type CallTrying struct {
	CallID string `json:"call_id"`
	ReqID  string `json:"req_id,omitempty"`
}

// CallRinging says the far end is alerting.
type CallRinging struct {
	CallID string `json:"call_id"`
}

// CallIncoming announces an inbound call; an sdp.offer follows.
type CallIncoming struct {
	CallID   string `json:"call_id"`
	From     string `json:"from"`
	FromName string `json:"from_name"`
	To       string `json:"to"`
}

// CallAnswered says the call is connected.
type CallAnswered struct {
	CallID     string `json:"call_id"`
	AnsweredAt string `json:"answered_at"`
}

// CallEnded is terminal; DurationSeconds is nil when never answered.
type CallEnded struct {
	CallID          string    `json:"call_id"`
	Reason          EndReason `json:"reason"`
	DurationSeconds *int      `json:"duration_seconds"`
}

// CallRestored describes a live call after a session resumed. HeldBy,
// Muted and Recording are our additions (clients that do not know them
// ignore them): the hold side when State is held, whether the server
// mutes this device, and the call's recording (absent when none).
type CallRestored struct {
	CallID     string         `json:"call_id"`
	State      CallState      `json:"state"`
	From       string         `json:"from"`
	FromName   string         `json:"from_name"`
	To         string         `json:"to"`
	Direction  Direction      `json:"direction"`
	AnsweredAt *string        `json:"answered_at"`
	HeldBy     HeldBy         `json:"held_by,omitempty"`
	Muted      bool           `json:"muted"`
	Recording  *RecordingInfo `json:"recording,omitempty"`
}

// CallHeld says the call went on hold, and by whom.
type CallHeld struct {
	CallID string `json:"call_id"`
	HeldBy HeldBy `json:"held_by"`
}

// CallQuality is the device's own leg's quality in the last 5-s window:
// what the server received from the device. Only clients that asked for
// FeatureQuality get it.
type CallQuality struct {
	CallID string   `json:"call_id"`
	MOS    float64  `json:"mos"`    // estimated mean opinion score, 1–4.5
	Loss   float64  `json:"loss"`   // packets lost, percent
	Jitter float64  `json:"jitter"` // interarrival jitter, ms
	RTT    *float64 `json:"rtt"`    // round-trip time, ms; null when unknown
}

// CallResumed says the call left hold.
type CallResumed struct {
	CallID string `json:"call_id"`
}

// SDPPranswer carries a provisional answer with early media.
type SDPPranswer struct {
	CallID string `json:"call_id"`
	SDP    string `json:"sdp"`
}

// PresenceEntry is one user's presence.
type PresenceEntry struct {
	UserID       string         `json:"user_id"`
	Name         string         `json:"name"`
	Status       PresenceStatus `json:"status"`
	DoNotDisturb bool           `json:"do_not_disturb"`
	StatusText   string         `json:"status_text,omitempty"`
	UpdatedAt    string         `json:"updated_at"`
}

// PresenceList is the snapshot answering PresenceSubscribe.
type PresenceList struct {
	ReqID string          `json:"req_id,omitempty"`
	Users []PresenceEntry `json:"users"`
}

// PresenceUpdate is one user's presence change.
type PresenceUpdate struct {
	PresenceEntry
}

// NetworkChanged follows authenticated when the socket presented an
// emergency_address_id that is not bound to the network the socket comes
// from (bound elsewhere, or not the user's): non-emergency calls through
// trunks may then be refused until the device binds an address here.
type NetworkChanged struct{}

// MessageType implementations.

func (Authenticate) MessageType() Type         { return TypeAuthenticate }
func (AuthRefresh) MessageType() Type          { return TypeAuthRefresh }
func (Ping) MessageType() Type                 { return TypePing }
func (CallCreate) MessageType() Type           { return TypeCallCreate }
func (CallAnswer) MessageType() Type           { return TypeCallAnswer }
func (CallReject) MessageType() Type           { return TypeCallReject }
func (CallHangup) MessageType() Type           { return TypeCallHangup }
func (CallHold) MessageType() Type             { return TypeCallHold }
func (CallResume) MessageType() Type           { return TypeCallResume }
func (CallMute) MessageType() Type             { return TypeCallMute }
func (CallUnmute) MessageType() Type           { return TypeCallUnmute }
func (CallTransfer) MessageType() Type         { return TypeCallTransfer }
func (CallTransferAttended) MessageType() Type { return TypeCallTransferAttended }
func (SDPOffer) MessageType() Type             { return TypeSDPOffer }
func (SDPAnswer) MessageType() Type            { return TypeSDPAnswer }
func (ICECandidate) MessageType() Type         { return TypeICECandidate }
func (ICEDone) MessageType() Type              { return TypeICEDone }
func (PresenceSubscribe) MessageType() Type    { return TypePresenceSubscribe }
func (Authenticated) MessageType() Type        { return TypeAuthenticated }
func (AuthRefreshed) MessageType() Type        { return TypeAuthRefreshed }
func (Pong) MessageType() Type                 { return TypePong }
func (Error) MessageType() Type                { return TypeError }
func (CallTrying) MessageType() Type           { return TypeCallTrying }
func (CallRinging) MessageType() Type          { return TypeCallRinging }
func (CallIncoming) MessageType() Type         { return TypeCallIncoming }
func (CallAnswered) MessageType() Type         { return TypeCallAnswered }
func (CallEnded) MessageType() Type            { return TypeCallEnded }
func (CallRestored) MessageType() Type         { return TypeCallRestored }
func (CallQuality) MessageType() Type          { return TypeCallQuality }
func (CallHeld) MessageType() Type             { return TypeCallHeld }
func (CallResumed) MessageType() Type          { return TypeCallResumed }
func (SDPPranswer) MessageType() Type          { return TypeSDPPranswer }
func (PresenceList) MessageType() Type         { return TypePresenceList }
func (PresenceUpdate) MessageType() Type       { return TypePresenceUpdate }
func (NetworkChanged) MessageType() Type       { return TypeNetworkChanged }
