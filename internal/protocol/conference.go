package protocol

import "fmt"

// Conference frames (docs/protocol.md "Conference"). A client that never
// sends call.merge never receives any of them.

// CallMerge merges the device's answered call WithCallID into CallID:
// the two other parties and the device become one conference under
// CallID; the device's call WithCallID ends with reason "merged".
type CallMerge struct {
	ReqID      string `json:"req_id,omitempty"`
	CallID     string `json:"call_id"`
	WithCallID string `json:"with_call_id"`
}

// CallAdd rings Destination (an extension or number, routed as the
// device's own call) and joins whoever answers to CallID, which becomes a
// conference with the device as its host.
type CallAdd struct {
	ReqID       string `json:"req_id,omitempty"`
	CallID      string `json:"call_id"`
	Destination string `json:"destination"`
}

// CallParticipantMute mutes (or, with Muted false, unmutes) one
// conference participant for everyone; host only.
type CallParticipantMute struct {
	ReqID         string `json:"req_id,omitempty"`
	CallID        string `json:"call_id"`
	ParticipantID string `json:"participant_id"`
	Muted         bool   `json:"muted"`
}

// CallParticipantRemove hangs up one conference participant; host only.
type CallParticipantRemove struct {
	ReqID         string `json:"req_id,omitempty"`
	CallID        string `json:"call_id"`
	ParticipantID string `json:"participant_id"`
}

// ConferenceParticipant is one party of a conference.
type ConferenceParticipant struct {
	ParticipantID string `json:"participant_id"`
	Name          string `json:"name,omitempty"`
	Number        string `json:"number,omitempty"`
	Host          bool   `json:"host"`
	Muted         bool   `json:"muted"`
	Held          bool   `json:"held"`
}

// ConferenceUpdated lists a conference's participants, to its host: the
// answer to call.merge and the participant requests (with their req_id),
// and after any change.
type ConferenceUpdated struct {
	ReqID        string                  `json:"req_id,omitempty"`
	CallID       string                  `json:"call_id"`
	Participants []ConferenceParticipant `json:"participants"`
}

func (CallMerge) MessageType() Type             { return TypeCallMerge }
func (CallAdd) MessageType() Type               { return TypeCallAdd }
func (CallParticipantMute) MessageType() Type   { return TypeCallParticipantMute }
func (CallParticipantRemove) MessageType() Type { return TypeCallParticipantRemove }
func (ConferenceUpdated) MessageType() Type     { return TypeConferenceUpdated }

func (m *CallMerge) validate() error {
	if err := required("call_id", m.CallID, "with_call_id", m.WithCallID); err != nil {
		return err
	}
	if m.CallID == m.WithCallID {
		return fmt.Errorf("with_call_id: must name another call than call_id")
	}
	return nil
}

func (m *CallAdd) validate() error {
	return required("call_id", m.CallID, "destination", m.Destination)
}

func (m *CallParticipantMute) validate() error {
	return required("call_id", m.CallID, "participant_id", m.ParticipantID)
}

func (m *CallParticipantRemove) validate() error {
	return required("call_id", m.CallID, "participant_id", m.ParticipantID)
}
