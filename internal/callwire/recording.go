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
	if !n.Requested && !p.hasFeature(protocol.FeatureRecording) {
		return
	}
	p.s.Send(&protocol.CallRecording{ReqID: n.ReqID, CallID: p.id(), RecordingID: string(n.RecordingID),
		State: protocol.RecordingState(n.State)})
}

// hasFeature says whether the session's socket asked for the optional
// frames f (authenticate.features).
func (p party) hasFeature(f string) bool {
	h, ok := p.s.(interface{ HasFeature(string) bool })
	return ok && h.HasFeature(f)
}

// recordCommand translates call.record.
func recordCommand(m *protocol.CallRecord) call.Command {
	return call.Record{Action: call.RecordAction(m.Action), ReqID: m.ReqID}
}
