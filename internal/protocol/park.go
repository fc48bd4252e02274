package protocol

import "strings"

// CallPark parks the other party of an answered call in the account's
// first free park slot; the server answers CallParked with the same
// req_id, then call.ended {reason: "transferred"} for this device.
type CallPark struct {
	ReqID  string `json:"req_id,omitempty"`
	CallID string `json:"call_id"`
}

// CallParked answers call.park: the slot to dial ("701") to pick the
// call up.
type CallParked struct {
	ReqID  string `json:"req_id,omitempty"`
	CallID string `json:"call_id"`
	Slot   string `json:"slot"`
}

func (CallPark) MessageType() Type   { return TypeCallPark }
func (CallParked) MessageType() Type { return TypeCallParked }

func (m *CallPark) validate() error { return required("call_id", m.CallID) }

// ParkSlotPrefix starts a park slot's id in presence.subscribe and
// presence updates ("park.701").
const ParkSlotPrefix = "park."

// watchable reports whether id names something presence.subscribe can
// watch: a user, or a park slot.
func watchable(id string) bool {
	return strings.HasPrefix(id, "user_") || strings.HasPrefix(id, ParkSlotPrefix)
}
