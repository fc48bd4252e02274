package protocol

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecodeConferenceFrames(t *testing.T) {
	for _, tt := range []struct {
		name, frame string
		want        Message
		wantErr     string
	}{
		{"merge", `{"type":"call.merge","req_id":"r","call_id":"call_a","with_call_id":"call_b"}`,
			&CallMerge{ReqID: "r", CallID: "call_a", WithCallID: "call_b"}, ""},
		{"add", `{"type":"call.add","call_id":"call_a","destination":"103"}`,
			&CallAdd{CallID: "call_a", Destination: "103"}, ""},
		{"mute", `{"type":"call.participant.mute","call_id":"call_a","participant_id":"leg_x","muted":true}`,
			&CallParticipantMute{CallID: "call_a", ParticipantID: "leg_x", Muted: true}, ""},
		{"remove", `{"type":"call.participant.remove","call_id":"call_a","participant_id":"leg_x"}`,
			&CallParticipantRemove{CallID: "call_a", ParticipantID: "leg_x"}, ""},
		{"merge with itself", `{"type":"call.merge","call_id":"call_a","with_call_id":"call_a"}`, nil, "another call"},
		{"merge without other", `{"type":"call.merge","call_id":"call_a"}`, nil, "with_call_id is required"},
		{"add without destination", `{"type":"call.add","call_id":"call_a","destination":" "}`, nil, "destination is required"},
		{"mute without participant", `{"type":"call.participant.mute","call_id":"call_a"}`, nil, "participant_id is required"},
		{"mute not a bool", `{"type":"call.participant.mute","call_id":"c","participant_id":"p","muted":"yes"}`, nil, `field "muted"`},
		{"server frame from client", `{"type":"conference.updated","call_id":"c"}`, nil, "unknown message type"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeClient([]byte(tt.frame))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestConferenceUpdatedRoundTrip(t *testing.T) {
	m := &ConferenceUpdated{ReqID: "r", CallID: "call_a", Participants: []ConferenceParticipant{
		{ParticipantID: "leg_a", Number: "101", Host: true}, {ParticipantID: "leg_b", Name: "Bob", Muted: true, Held: true}}}
	frame, err := Encode(m)
	require.NoError(t, err)
	got, err := DecodeServer(frame)
	require.NoError(t, err)
	require.Equal(t, m, got)
}
