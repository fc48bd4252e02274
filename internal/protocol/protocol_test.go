package protocol

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite generated files")

func TestDecodeClient(t *testing.T) {
	tests := []struct {
		name    string
		frame   string
		want    Message
		wantErr string
		reqID   string
		callID  string
	}{
		{"authenticate", `{"type":"authenticate","token":"t","req_id":"r1","extra":1}`,
			&Authenticate{Token: "t", ReqID: "r1"}, "", "", ""},
		{"ping no req", `{"type":"ping"}`, &Ping{}, "", "", ""},
		{"create", `{"type":"call.create","destination":"101","sdp":"v=0","req_id":"c"}`,
			&CallCreate{Destination: "101", SDP: "v=0", ReqID: "c"}, "", "", ""},
		{"reject busy", `{"type":"call.reject","call_id":"call_1","reason":"busy"}`,
			&CallReject{CallID: "call_1", Reason: RejectBusy}, "", "", ""},
		{"candidate", `{"type":"ice.candidate","call_id":"c","candidate":"candidate:1","sdp_mid":"0","sdp_m_line_index":0}`,
			&ICECandidate{CallID: "c", Candidate: "candidate:1", SDPMid: "0"}, "", "", ""},
		{"candidate null index", `{"type":"ice.candidate","call_id":"c","candidate":"x","sdp_mid":null,"sdp_m_line_index":null}`,
			&ICECandidate{CallID: "c", Candidate: "x"}, "", "", ""},
		{"consult", `{"type":"call.transfer.attended","call_id":"c","step":"consult","destination":"105","sdp":"v=0"}`,
			&CallTransferAttended{CallID: "c", Step: StepConsult, Destination: "105", SDP: "v=0"}, "", "", ""},
		{"complete", `{"type":"call.transfer.attended","call_id":"c","step":"complete"}`,
			&CallTransferAttended{CallID: "c", Step: StepComplete}, "", "", ""},

		{"park", `{"type":"call.park","call_id":"c","req_id":"p"}`, &CallPark{CallID: "c", ReqID: "p"}, "", "", ""},
		{"presence of a park slot", `{"type":"presence.subscribe","users":["user_a","park.701"]}`,
			&PresenceSubscribe{Users: []string{"user_a", "park.701"}}, "", "", ""},
		{"park without call", `{"type":"call.park","req_id":"p"}`, nil, "call_id is required", "p", ""},

		{"not json", `{`, nil, "not a JSON object", "", ""},
		{"array", `[1]`, nil, "not a JSON object", "", ""},
		{"no type", `{"req_id":"r"}`, nil, `no "type"`, "r", ""},
		{"numeric type", `{"type":5}`, nil, `no "type"`, "", ""},
		{"unknown type", `{"type":"call.teleport","req_id":"r","call_id":"c"}`, nil, "unknown message type", "r", "c"},
		{"server type from client", `{"type":"call.answered"}`, nil, "unknown message type", "", ""},
		{"missing token", `{"type":"authenticate"}`, nil, "token is required", "", ""},
		{"wrong field type", `{"type":"call.hangup","call_id":7}`, nil, `field "call_id"`, "", ""},
		{"missing sdp", `{"type":"call.create","destination":"101","req_id":"x"}`, nil, "sdp is required", "x", ""},
		{"bad reject reason", `{"type":"call.reject","call_id":"c","reason":"nope"}`, nil, "want decline or busy", "", "c"},
		{"bad step", `{"type":"call.transfer.attended","call_id":"c","step":"later"}`, nil, "want consult or complete", "", "c"},
		{"consult without sdp", `{"type":"call.transfer.attended","call_id":"c","step":"consult","destination":"1"}`, nil, "sdp is required", "", "c"},
		{"presence empty", `{"type":"presence.subscribe","users":[]}`, nil, "want 1 to 100", "", ""},
		{"presence bad id", `{"type":"presence.subscribe","users":["bob"]}`, nil, "not a user id", "", ""},
		{"invalid utf-8", "{\"type\":\"ping\",\"req_id\":\"r\xff\"}", nil, "not valid UTF-8", "", ""},
		{"invalid utf-8 in a string", "{\"type\":\"call.create\",\"destination\":\"10\xc0\",\"sdp\":\"v\"}", nil, "not valid UTF-8", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeClient([]byte(tt.frame))
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			require.Equal(t, tt.reqID, de.ReqID)
			require.Equal(t, tt.callID, de.CallID)
		})
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	d := 42
	msgs := []Message{
		&Authenticated{UserID: "user_a", AccountID: "acct_b", SessionID: "sess_c", Reconnected: true},
		&AuthRefreshed{},
		&Error{Code: CodeInvalidMessage, Message: "m", ReqID: "r", Fatal: true, Context: map[string]any{"users": []any{"user_x"}}},
		&CallEnded{CallID: "call_1", Reason: EndNoAnswer},
		&CallEnded{CallID: "call_1", Reason: EndHangup, DurationSeconds: &d},
		&PresenceUpdate{PresenceEntry{UserID: "user_a", Status: PresenceOnCall}},
		&SDPOffer{CallID: "c", SDP: "v=0"},
	}
	for _, m := range msgs {
		frame, err := Encode(m)
		require.NoError(t, err)
		got, err := DecodeServer(frame)
		require.NoError(t, err, string(frame))
		require.Equal(t, m, got)
	}
	frame, err := Encode(&AuthRefreshed{})
	require.NoError(t, err)
	require.JSONEq(t, `{"type":"auth.refreshed"}`, string(frame))
	frame, err = Encode(&CallEnded{CallID: "c", Reason: EndBusy})
	require.NoError(t, err)
	require.JSONEq(t, `{"type":"call.ended","call_id":"c","reason":"busy","duration_seconds":null}`, string(frame))
}

func TestFatalCodes(t *testing.T) {
	require.True(t, CodeAuthFailed.Fatal())
	require.True(t, CodeGoingAway.Fatal())
	require.False(t, CodeInvalidMessage.Fatal())
	require.False(t, CodeCallNotFound.Fatal())
}

// TestTypeScriptCurrent fails when sdk/js/src/protocol.gen.ts is stale.
// Regenerate with: go test ./internal/protocol -run TypeScript -update
func TestTypeScriptCurrent(t *testing.T) {
	path := filepath.Join("..", "..", "sdk", "js", "src", "protocol.gen.ts")
	want := TypeScript()
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(want), 0o644))
	}
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, want, string(got), "stale: run go test ./internal/protocol -run TypeScript -update")
}

func FuzzDecodeClient(f *testing.F) {
	for _, s := range []string{
		`{"type":"authenticate","token":"t"}`, `{"type":"call.create","destination":"1","sdp":"v"}`,
		`{"type":"presence.subscribe","users":["user_a"]}`, `{}`, `[]`, `null`, `{"type":null}`,
		`{"type":"call.transfer.attended","call_id":"c","step":"consult"}`,
		`{"type":"call.park","call_id":"c","req_id":"r"}`, `{"type":"presence.subscribe","users":["park.701"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := DecodeClient(data)
		if err != nil {
			var de *DecodeError
			if !errorsAs(err, &de) || de.Message == "" {
				t.Fatalf("error without message: %v", err)
			}
			return
		}
		frame, err := Encode(msg)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(frame) {
			t.Fatalf("invalid re-encoding %q", frame)
		}
	})
}

func errorsAs(err error, target **DecodeError) bool {
	de, ok := err.(*DecodeError)
	if ok {
		*target = de
	}
	return ok
}
