package softphone

import "github.com/switchboard-voice/switchboard/internal/protocol"

// Park parks the other party of the call in the account's first free
// slot. The server answers with call.parked (the slot to dial to pick it
// up) on the call's Events, then call.ended "transferred"; or with an
// error (park_full) and the call goes on.
func (c *Call) Park() error {
	return c.p.Send(protocol.CallPark{CallID: c.ID})
}
