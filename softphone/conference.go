package softphone

import "github.com/switchboard-voice/switchboard/internal/protocol"

// Merge merges other (another answered call of this phone) into c: the
// three parties become one conference under c's id, and other ends with
// reason "merged". c then receives conference.updated.
func (c *Call) Merge(other *Call) error {
	return c.p.Send(protocol.CallMerge{CallID: c.ID, WithCallID: other.ID})
}

// Add rings destination and joins whoever answers to c, which becomes a
// conference this phone hosts.
func (c *Call) Add(destination string) error {
	return c.p.Send(protocol.CallAdd{CallID: c.ID, Destination: destination})
}

// MuteParticipant mutes (or unmutes) a participant of the conference c
// hosts, for everyone.
func (c *Call) MuteParticipant(participantID string, muted bool) error {
	return c.p.Send(protocol.CallParticipantMute{CallID: c.ID, ParticipantID: participantID, Muted: muted})
}

// RemoveParticipant hangs up a participant of the conference c hosts.
func (c *Call) RemoveParticipant(participantID string) error {
	return c.p.Send(protocol.CallParticipantRemove{CallID: c.ID, ParticipantID: participantID})
}
