package callwire

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

func TestCommandFromFrames(t *testing.T) {
	for _, tt := range []struct {
		frame string
		want  call.Command
	}{
		{`{"type":"call.answer","call_id":"c1"}`, call.Answer{}},
		{`{"type":"call.reject","call_id":"c1","reason":"busy"}`, call.Reject{Busy: true}},
		{`{"type":"call.reject","call_id":"c1","reason":"decline"}`, call.Reject{}},
		{`{"type":"call.reject","call_id":"c1"}`, call.Reject{}},
		{`{"type":"call.hangup","call_id":"c1"}`, call.Hangup{}},
		{`{"type":"call.hold","call_id":"c1"}`, call.Hold{}},
		{`{"type":"call.resume","call_id":"c1"}`, call.Resume{}},
		{`{"type":"call.mute","call_id":"c1"}`, call.Mute{On: true}},
		{`{"type":"call.unmute","call_id":"c1"}`, call.Mute{}},
		{`{"type":"call.transfer","call_id":"c1","destination":"104"}`, call.Transfer{To: "104"}},
		{`{"type":"call.transfer.attended","call_id":"c1","req_id":"r","step":"consult","destination":"104","sdp":"v=0"}`,
			call.AttendedTransfer{Step: call.StepConsult, ReqID: "r", To: "104", SDP: "v=0"}},
		{`{"type":"call.transfer.attended","call_id":"c1","step":"complete"}`, call.AttendedTransfer{Step: call.StepComplete}},
		{`{"type":"call.park","call_id":"c1","req_id":"p"}`, call.Park{ReqID: "p"}},
		{`{"type":"sdp.offer","call_id":"c1","sdp":"o"}`, call.Offer{SDP: "o"}},
		{`{"type":"sdp.answer","call_id":"c1","sdp":"a"}`, call.AnswerSDP{SDP: "a"}},
		{`{"type":"ice.candidate","call_id":"c1","candidate":"candidate:1","sdp_mid":"0","sdp_m_line_index":1}`,
			call.Candidate{Candidate: "candidate:1", Mid: "0", Index: 1}},
		{`{"type":"ice.done","call_id":"c1"}`, call.CandidatesDone{}},
	} {
		msg, err := protocol.DecodeClient([]byte(tt.frame))
		require.NoError(t, err, tt.frame)
		id, cmd, ok := Command(msg)
		require.True(t, ok, tt.frame)
		require.Equal(t, ident.CallID("c1"), id, tt.frame)
		require.Equal(t, tt.want, cmd, tt.frame)
	}
	_, _, ok := Command(&protocol.CallCreate{})
	require.False(t, ok, "call.create is no command on a call")
}

// Every event a call tells a device's party, as the frame the device gets.
func TestPartyFrames(t *testing.T) {
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.FixedZone("X", 3600))
	two := 2
	for _, tt := range []struct {
		name string
		tell func(p call.DeviceParty)
		want []string
	}{
		{"trying", func(p call.DeviceParty) { p.Trying("r1") }, []string{`{"type":"call.trying","call_id":"c1","req_id":"r1"}`}},
		{"incoming", func(p call.DeviceParty) { p.Incoming(call.Info{From: "101", FromName: "A", To: "102"}, "o") },
			[]string{`{"type":"call.incoming","call_id":"c1","from":"101","from_name":"A","to":"102"}`,
				`{"type":"sdp.offer","call_id":"c1","sdp":"o"}`}},
		{"answer", func(p call.DeviceParty) { p.Answer("a") }, []string{`{"type":"sdp.answer","call_id":"c1","sdp":"a"}`}},
		{"ringing", func(p call.DeviceParty) { p.Ringing() }, []string{`{"type":"call.ringing","call_id":"c1"}`}},
		{"answered", func(p call.DeviceParty) { p.Answered(at) },
			[]string{`{"type":"call.answered","call_id":"c1","answered_at":"2026-12-02T08:00:00Z"}`}},
		{"held", func(p call.DeviceParty) { p.Held(call.HeldRemote) }, []string{`{"type":"call.held","call_id":"c1","held_by":"remote"}`}},
		{"resumed", func(p call.DeviceParty) { p.Resumed() }, []string{`{"type":"call.resumed","call_id":"c1"}`}},
		{"ended", func(p call.DeviceParty) { p.Ended(call.EndAnsweredElsewhere, nil) },
			[]string{`{"type":"call.ended","call_id":"c1","reason":"answered-elsewhere","duration_seconds":null}`}},
		{"ended after talking", func(p call.DeviceParty) { p.Ended(call.EndHangup, &two) },
			[]string{`{"type":"call.ended","call_id":"c1","reason":"hangup","duration_seconds":2}`}},
		{"refused", func(p call.DeviceParty) { p.Refused(call.Refusal{Code: call.CodeInvalid, Msg: "no", ReqID: "r"}) },
			[]string{`{"type":"error","code":"invalid_message","message":"no","req_id":"r","call_id":"c1"}`}},
		{"restored held", func(p call.DeviceParty) {
			p.Restored(call.Restored{From: "101", FromName: "A", To: "102", Inbound: true, State: call.StateHeld,
				HeldBy: call.HeldLocal, Muted: true, AnsweredAt: at})
		}, []string{`{"type":"call.restored","call_id":"c1","state":"held","from":"101","from_name":"A","to":"102","direction":"inbound","answered_at":"2026-12-02T08:00:00Z","held_by":"local","muted":true}`}},
		{"restored ringing", func(p call.DeviceParty) {
			p.Restored(call.Restored{From: "101", To: "102", State: call.StateRinging})
		}, []string{`{"type":"call.restored","call_id":"c1","state":"ringing","from":"101","from_name":"","to":"102","direction":"outbound","answered_at":null,"muted":false}`}},
		{"restored recorded", func(p call.DeviceParty) {
			p.Restored(call.Restored{From: "101", To: "102", State: call.StateActive, AnsweredAt: at,
				Recording: &call.RecordingInfo{ID: "rec_1", State: call.RecordingPaused}})
		}, []string{`{"type":"call.restored","call_id":"c1","state":"active","from":"101","from_name":"","to":"102","direction":"outbound","answered_at":"2026-12-02T08:00:00Z","muted":false,"recording":{"recording_id":"rec_1","state":"paused"}}`}},
		{"restored recorded, to a client without the recording feature", func(p call.DeviceParty) {
			p.Restored(call.Restored{From: "101", To: "102", State: call.StateActive, AnsweredAt: at,
				Recording: &call.RecordingInfo{ID: "rec_1", State: call.RecordingPaused}})
		}, []string{`{"type":"call.restored","call_id":"c1","state":"active","from":"101","from_name":"","to":"102","direction":"outbound","answered_at":"2026-12-02T08:00:00Z","muted":false}`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := &fakeDevice{id: "sess_1"}
			if !strings.Contains(tt.name, "without") {
				d.features = []string{protocol.FeatureRecording}
			}
			p := Device{S: d}.Party("c1")
			require.Equal(t, "sess_1", p.Key())
			require.Equal(t, "webrtc", p.Kind())
			tt.tell(p)
			var got []string
			for _, m := range d.got {
				b, err := protocol.Encode(m)
				require.NoError(t, err)
				got = append(got, string(b))
			}
			require.Equal(t, tt.want, got)
		})
	}
}

// The call core's values are the protocol's words.
func TestValues(t *testing.T) {
	for r, want := range map[call.EndReason]protocol.EndReason{
		call.EndHangup: protocol.EndHangup, call.EndBusy: protocol.EndBusy, call.EndNoAnswer: protocol.EndNoAnswer,
		call.EndFailed: protocol.EndFailed, call.EndTransferred: protocol.EndTransferred, call.EndRejected: protocol.EndRejected,
		call.EndAnsweredElsewhere: protocol.EndAnsweredElsewhere, call.EndServerShutdown: protocol.EndServerShutdown,
	} {
		require.Equal(t, want, EndReason(r))
	}
	require.Equal(t, protocol.HeldLocal, heldBy(call.HeldLocal))
	require.Equal(t, protocol.HeldRemote, heldBy(call.HeldRemote))
	require.Equal(t, protocol.CodeInternalError, ErrorCode(call.CodeUnknown))
	require.Equal(t, protocol.TransferStep(call.StepConsult), protocol.StepConsult)
	require.Equal(t, protocol.TransferStep(call.StepComplete), protocol.StepComplete)
}
