package callwire

import (
	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

var _ call.RecordingListener = party{}

// RecordingChanged sends call.recording: always in answer to the
// device's own call.record, otherwise only to a socket that asked for the
// "recording" feature (older clients never see a frame they did not ask
// for).
func (p party) RecordingChanged(n call.RecordingNotice) {
	f, ok := p.s.(interface{ HasFeature(string) bool })
	if !n.Requested && (!ok || !f.HasFeature(protocol.FeatureRecording)) {
		return
	}
	p.s.Send(&protocol.CallRecording{ReqID: n.ReqID, CallID: p.id(), RecordingID: string(n.RecordingID),
		State: protocol.RecordingState(n.State)})
}

// recordCommand translates call.record.
func recordCommand(m *protocol.CallRecord) call.Command {
	return call.Record{Action: call.RecordAction(m.Action), ReqID: m.ReqID}
}
