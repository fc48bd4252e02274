package call

import (
	"github.com/switchboard-voice/switchboard/internal/emergency"
	"github.com/switchboard-voice/switchboard/internal/route"
)

// Located is a device that may have an emergency address bound to its
// network (the signalling hub's sessions).
type Located interface {
	EmergencyLocation() *emergency.Location
}

// callerLocation is the emergency address bound to the caller's device,
// or nil (no address, another network, or not a device session).
func (c *Call) callerLocation() *emergency.Location {
	if l, ok := c.caller.dev.(Located); ok {
		return l.EmergencyLocation()
	}
	return nil
}

// needsAddress reports whether p may not go ahead because the account
// requires an emergency address the caller's device has not bound. It
// applies to device sessions only: SIP phones and trunks have no binding.
func (c *Call) needsAddress(p *route.Plan) bool {
	if !p.AddressRequired || p.Emergency {
		return false
	}
	if c.caller.dev == nil {
		return false
	}
	return c.callerLocation() == nil
}

// refuseNoAddress answers the call.create with emergency_address_required
// (echoing its req_id) and ends the call as failed.
func (c *Call) refuseNoAddress() {
	c.caller.party.Refused(Refusal{Code: CodeAddressRequired, ReqID: c.create.ReqID,
		Msg: "bind an emergency address for this network before calling numbers outside the account (emergency numbers always work)"})
	c.end(EndFailed)
}

// emergencyLocation is what an emergency call carries to the trunk.
func (c *Call) emergencyLocation() *emergency.Location {
	if !c.emergency {
		return nil
	}
	return c.callerLocation()
}
