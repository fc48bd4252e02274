package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// clientMessages maps every client → server type to a constructor.
var clientMessages = map[Type]func() Message{
	TypeAuthenticate:         func() Message { return &Authenticate{} },
	TypeAuthRefresh:          func() Message { return &AuthRefresh{} },
	TypePing:                 func() Message { return &Ping{} },
	TypeCallCreate:           func() Message { return &CallCreate{} },
	TypeCallAnswer:           func() Message { return &CallAnswer{} },
	TypeCallReject:           func() Message { return &CallReject{} },
	TypeCallHangup:           func() Message { return &CallHangup{} },
	TypeCallHold:             func() Message { return &CallHold{} },
	TypeCallResume:           func() Message { return &CallResume{} },
	TypeCallMute:             func() Message { return &CallMute{} },
	TypeCallUnmute:           func() Message { return &CallUnmute{} },
	TypeCallTransfer:         func() Message { return &CallTransfer{} },
	TypeCallTransferAttended: func() Message { return &CallTransferAttended{} },
	TypeSDPOffer:             func() Message { return &SDPOffer{} },
	TypeSDPAnswer:            func() Message { return &SDPAnswer{} },
	TypeICECandidate:         func() Message { return &ICECandidate{} },
	TypeICEDone:              func() Message { return &ICEDone{} },
	TypePresenceSubscribe:    func() Message { return &PresenceSubscribe{} },
	TypeCallPark:             func() Message { return &CallPark{} },
	TypeCallRecord:           func() Message { return &CallRecord{} },
	// conference.go
	TypeCallMerge:             func() Message { return &CallMerge{} },
	TypeCallAdd:               func() Message { return &CallAdd{} },
	TypeCallParticipantMute:   func() Message { return &CallParticipantMute{} },
	TypeCallParticipantRemove: func() Message { return &CallParticipantRemove{} },
}

// serverMessages maps every server → client type to a constructor.
var serverMessages = map[Type]func() Message{
	TypeAuthenticated:  func() Message { return &Authenticated{} },
	TypeAuthRefreshed:  func() Message { return &AuthRefreshed{} },
	TypePong:           func() Message { return &Pong{} },
	TypeError:          func() Message { return &Error{} },
	TypeCallTrying:     func() Message { return &CallTrying{} },
	TypeCallRinging:    func() Message { return &CallRinging{} },
	TypeCallIncoming:   func() Message { return &CallIncoming{} },
	TypeCallAnswered:   func() Message { return &CallAnswered{} },
	TypeCallEnded:      func() Message { return &CallEnded{} },
	TypeCallRestored:   func() Message { return &CallRestored{} },
	TypeCallHeld:       func() Message { return &CallHeld{} },
	TypeCallResumed:    func() Message { return &CallResumed{} },
	TypeCallQuality:    func() Message { return &CallQuality{} },
	TypeSDPOffer:       func() Message { return &SDPOffer{} },
	TypeSDPAnswer:      func() Message { return &SDPAnswer{} },
	TypeSDPPranswer:    func() Message { return &SDPPranswer{} },
	TypeICECandidate:   func() Message { return &ICECandidate{} },
	TypeICEDone:        func() Message { return &ICEDone{} },
	TypePresenceList:   func() Message { return &PresenceList{} },
	TypePresenceUpdate: func() Message { return &PresenceUpdate{} },
	TypeNetworkChanged: func() Message { return &NetworkChanged{} },
	TypeCallParked:     func() Message { return &CallParked{} },
	TypeCallRecording:  func() Message { return &CallRecording{} },
	// conference.go
	TypeConferenceUpdated: func() Message { return &ConferenceUpdated{} },
}

// DecodeError is a frame that cannot be used. It carries the request and call
// ids the frame named, when they could be read, so the error can echo them.
type DecodeError struct {
	Type    Type // the frame's type, when it had a readable one
	ReqID   string
	CallID  string
	Message string
}

func (e *DecodeError) Error() string { return e.Message }

// ErrUnknownType is wrapped by DecodeError messages for an unknown "type".
var ErrUnknownType = errors.New("unknown message type")

// envelope is read first, leniently, to learn the type and ids.
type envelope struct {
	Type   json.RawMessage `json:"type"`
	ReqID  json.RawMessage `json:"req_id"`
	CallID json.RawMessage `json:"call_id"`
}

// DecodeClient parses a client → server frame and validates its fields.
func DecodeClient(data []byte) (Message, error) {
	// encoding/json would quietly turn bad bytes into U+FFFD; a text frame
	// must be UTF-8 (RFC 6455 §5.6), which coder/websocket leaves to us.
	if !utf8.Valid(data) {
		return nil, &DecodeError{Message: "frame is not valid UTF-8"}
	}
	return decode(data, clientMessages)
}

// DecodeServer parses a server → client frame (used by Go clients).
func DecodeServer(data []byte) (Message, error) { return decode(data, serverMessages) }

func decode(data []byte, registry map[Type]func() Message) (Message, error) {
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, &DecodeError{Message: "frame is not a JSON object"}
	}
	derr := &DecodeError{ReqID: rawString(env.ReqID), CallID: rawString(env.CallID)}
	typ := rawString(env.Type)
	if typ == "" {
		derr.Message = `frame has no "type" string`
		return nil, derr
	}
	derr.Type = Type(typ)
	ctor, ok := registry[Type(typ)]
	if !ok {
		derr.Message = fmt.Sprintf("%s %q", ErrUnknownType, typ)
		return nil, derr
	}
	msg := ctor()
	if err := json.Unmarshal(data, msg); err != nil {
		derr.Message = typ + ": " + fieldError(err)
		return nil, derr
	}
	if v, ok := msg.(interface{ validate() error }); ok {
		if err := v.validate(); err != nil {
			derr.Message = typ + ": " + err.Error()
			return nil, derr
		}
	}
	return msg, nil
}

func rawString(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

func fieldError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Sprintf("field %q: want %s", te.Field, te.Type)
	}
	return "malformed JSON"
}

// Encode renders msg as one frame: its fields plus "type".
func Encode(msg Message) ([]byte, error) {
	body, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(body) + 32)
	b.WriteString(`{"type":`)
	typ, _ := json.Marshal(string(msg.MessageType()))
	b.Write(typ)
	if len(body) > 2 { // body is "{…}"; splice its fields after "type"
		b.WriteByte(',')
		b.Write(body[1:])
	} else {
		b.WriteByte('}')
	}
	return b.Bytes(), nil
}

// Field validation. Each returns the first problem in wire terms.

func required(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.TrimSpace(pairs[i+1]) == "" {
			return fmt.Errorf("%s is required", pairs[i])
		}
	}
	return nil
}

func (m *Authenticate) validate() error { return required("token", m.Token) }
func (m *AuthRefresh) validate() error  { return required("token", m.Token) }
func (m *CallCreate) validate() error {
	return required("destination", m.Destination, "sdp", m.SDP)
}
func (m *CallAnswer) validate() error { return required("call_id", m.CallID) }
func (m *CallReject) validate() error {
	if err := required("call_id", m.CallID); err != nil {
		return err
	}
	switch m.Reason {
	case "", RejectDecline, RejectBusy:
		return nil
	}
	return fmt.Errorf("reason %q: want decline or busy", m.Reason)
}
func (m *CallHangup) validate() error { return required("call_id", m.CallID) }
func (m *CallHold) validate() error   { return required("call_id", m.CallID) }
func (m *CallResume) validate() error { return required("call_id", m.CallID) }
func (m *CallMute) validate() error   { return required("call_id", m.CallID) }
func (m *CallUnmute) validate() error { return required("call_id", m.CallID) }
func (m *CallTransfer) validate() error {
	return required("call_id", m.CallID, "destination", m.Destination)
}
func (m *CallTransferAttended) validate() error {
	if err := required("call_id", m.CallID); err != nil {
		return err
	}
	switch m.Step {
	case StepConsult:
		return required("destination", m.Destination, "sdp", m.SDP)
	case StepComplete:
		return nil
	}
	return fmt.Errorf("step %q: want consult or complete", m.Step)
}
func (m *SDPOffer) validate() error     { return required("call_id", m.CallID, "sdp", m.SDP) }
func (m *SDPAnswer) validate() error    { return required("call_id", m.CallID, "sdp", m.SDP) }
func (m *ICECandidate) validate() error { return required("call_id", m.CallID) }
func (m *ICEDone) validate() error      { return required("call_id", m.CallID) }
func (m *PresenceSubscribe) validate() error {
	if n := len(m.Users); n < 1 || n > 100 {
		return fmt.Errorf("users: want 1 to 100 user ids, got %d", n)
	}
	for _, u := range m.Users {
		if !watchable(u) {
			return fmt.Errorf("users: %q is not a user id", u)
		}
	}
	return nil
}
