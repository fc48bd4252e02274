package callwire

import (
	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

var _ call.RecordingListener = party{}

// RecordingChanged sends call.recording.
func (p party) RecordingChanged(n call.RecordingNotice) {
	p.s.Send(&protocol.CallRecording{ReqID: n.ReqID, CallID: p.id(), RecordingID: string(n.RecordingID),
		State: protocol.RecordingState(n.State)})
}

// recordCommand translates call.record.
func recordCommand(m *protocol.CallRecord) call.Command {
	return call.Record{Action: call.RecordAction(m.Action), ReqID: m.ReqID}
}
