package callwire

import (
	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

var _ call.ConferenceListener = party{}

// conferenceCommand translates the conference frames; ok is false for
// any other frame.
func conferenceCommand(msg protocol.Message) (id ident.CallID, cmd call.Command, ok bool) {
	switch m := msg.(type) {
	case *protocol.CallMerge:
		return ident.CallID(m.CallID), call.Merge{ReqID: m.ReqID, With: ident.CallID(m.WithCallID)}, true
	case *protocol.CallAdd:
		return ident.CallID(m.CallID), call.Add{ReqID: m.ReqID, Destination: m.Destination}, true
	case *protocol.CallParticipantMute:
		return ident.CallID(m.CallID), call.ParticipantMute{ReqID: m.ReqID,
			Participant: ident.LegID(m.ParticipantID), On: m.Muted}, true
	case *protocol.CallParticipantRemove:
		return ident.CallID(m.CallID), call.ParticipantRemove{ReqID: m.ReqID,
			Participant: ident.LegID(m.ParticipantID)}, true
	}
	return "", nil, false
}

// Conference sends conference.updated to the host.
func (p party) Conference(info call.ConferenceInfo) {
	m := &protocol.ConferenceUpdated{ReqID: info.ReqID, CallID: p.id(),
		Participants: make([]protocol.ConferenceParticipant, 0, len(info.Participants))}
	for _, x := range info.Participants {
		m.Participants = append(m.Participants, protocol.ConferenceParticipant{ParticipantID: string(x.ID),
			Name: x.Name, Number: x.Number, Host: x.Host, Muted: x.Muted, Held: x.Held})
	}
	p.s.Send(m)
}
