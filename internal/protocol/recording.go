package protocol

import "fmt"

// RecordAction is what call.record asks of the call's recording.
type RecordAction string

// Record actions.
const (
	RecordStart  RecordAction = "start"
	RecordPause  RecordAction = "pause"
	RecordResume RecordAction = "resume"
	RecordStop   RecordAction = "stop"
)

// RecordingState is a call's recording state (call.recording "state").
type RecordingState string

// Recording states.
const (
	RecordingActive  RecordingState = "recording"
	RecordingPaused  RecordingState = "paused"
	RecordingStopped RecordingState = "stopped"
)

// FeatureRecording (authenticate.features): send call.recording for
// recordings this device did not ask for (the other party's, a
// supervisor's, the policy's). The answer to the device's own
// call.record comes either way.
const FeatureRecording = "recording"

// CodeRecordingNotAllowed: the account's recording policy forbids the
// request (recording is "never", or "always" and the request stops it).
const CodeRecordingNotAllowed ErrorCode = "recording_not_allowed"

// CallRecord starts, pauses, resumes or stops the call's recording. The
// server answers with call.recording (echoing req_id) or an error.
type CallRecord struct {
	ReqID  string       `json:"req_id,omitempty"`
	CallID string       `json:"call_id"`
	Action RecordAction `json:"action"`
}

// CallRecording tells every device party of a call that its recording
// changed state; req_id is set on the copy that answers a call.record.
type CallRecording struct {
	ReqID       string         `json:"req_id,omitempty"`
	CallID      string         `json:"call_id"`
	RecordingID string         `json:"recording_id"`
	State       RecordingState `json:"state"`
}

// RecordingInfo is a call's recording in call.restored: the state a
// call.recording notice would have said last (recording or paused).
type RecordingInfo struct {
	RecordingID string         `json:"recording_id"`
	State       RecordingState `json:"state"`
}

func (CallRecord) MessageType() Type    { return TypeCallRecord }
func (CallRecording) MessageType() Type { return TypeCallRecording }

func (m *CallRecord) validate() error {
	if err := required("call_id", m.CallID); err != nil {
		return err
	}
	switch m.Action {
	case RecordStart, RecordPause, RecordResume, RecordStop:
		return nil
	}
	return fmt.Errorf("action %q: want start, pause, resume or stop", m.Action)
}
