package call

import "github.com/switchboard-voice/switchboard/internal/ident"

// RestoreMoved is Restore for a device session that moved to another
// node of a cluster: in each of its calls its legs first take dev's party
// (the party's key, the session id, stays the same, so the call still
// finds the leg), then the device gets call.restored through it. The
// legs' media does not change.
func (m *Manager) RestoreMoved(dev Device) { m.restore(dev, true, false) }

// Rehome is RestoreMoved without call.restored, for a session that moved
// with a socket that named no session_id (the device is sent the frames it
// missed instead): its legs just take dev's party.
func (m *Manager) Rehome(dev Device) { m.restore(dev, true, true) }

// MemberCalls lists the calls the session is a party to.
func (m *Manager) MemberCalls(sess ident.SessionID) []ident.CallID {
	var out []ident.CallID
	for _, c := range m.snapshot() {
		if c.hasMember(string(sess)) {
			out = append(out, c.id)
		}
	}
	return out
}

// rehome gives dev's live legs in the call dev's party.
func (c *Call) rehome(dev Device) {
	key := string(dev.SessionID())
	legs := append([]*leg{c.caller}, c.callees...)
	for _, l := range legs {
		if l == nil || l.ended || l.party.Key() != key {
			continue
		}
		id := c.id
		if l.callID != "" {
			id = l.callID
		}
		l.party, l.dev = dev.Party(id), dev
	}
}
