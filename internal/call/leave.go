package call

import "github.com/switchboard-voice/switchboard/internal/ident"

// LeaveCall takes dev out of the one call it knows as id, as DeviceGone
// does for all of its calls: a ringing leg is dropped, an answered one
// ends the call. A cluster node uses it for a device on another node
// that cannot take that call (its socket is away).
func (m *Manager) LeaveCall(dev Device, id ident.CallID) {
	if c := m.memberCall(dev, id); c != nil {
		c.post(event{dev: dev, gone: true})
	}
}
