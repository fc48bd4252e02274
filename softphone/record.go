package softphone

import "github.com/switchboard-voice/switchboard/internal/protocol"

// Record asks the server to start, pause, resume or stop the call's
// recording (call.record with reqID, which the server's call.recording
// or error echoes; empty: none).
func (c *Call) Record(action protocol.RecordAction, reqID string) error {
	return c.p.Send(protocol.CallRecord{ReqID: reqID, CallID: c.ID, Action: action})
}
