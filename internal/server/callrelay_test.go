package server

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/ident"
)

// The device side keeps a session's remote calls from the first party
// message that joins it to one until that call's end.
func TestRelayTracksRemoteCalls(t *testing.T) {
	r := &callRelay{remote: map[ident.SessionID]map[ident.CallID]string{}, legs: map[string]map[remoteLeg]remoteDevice{}}
	for _, step := range []struct {
		call, owner, method string
		want                []string // owners of sess_a's calls after the step
	}{
		{"call_n1-aaaaaaaaaaaaaaaa", "n1", pmRefused, nil}, // an error about no call joins nothing
		{"call_n1-aaaaaaaaaaaaaaaa", "n1", pmIncoming, []string{"n1"}},
		{"call_n2-bbbbbbbbbbbbbbbb", "n2", pmTrying, []string{"n1", "n2"}},
		{"call_n1-aaaaaaaaaaaaaaaa", "n1", pmAnswered, []string{"n1", "n2"}},
		{"call_n1-aaaaaaaaaaaaaaaa", "n1", pmEnded, []string{"n2"}},
		{"call_n2-bbbbbbbbbbbbbbbb", "n2", pmEnded, nil},
	} {
		if joins(step.method) || step.method == pmEnded {
			r.track("sess_a", ident.CallID(step.call), step.owner, step.method != pmEnded)
		}
		// Commands are forwarded only for the calls an owner told of.
		require.Equal(t, slices.Contains(step.want, step.owner), r.knows("sess_a", ident.CallID(step.call), step.owner),
			"after %s %s", step.method, step.call)
		require.False(t, r.knows("sess_a", ident.CallID(step.call), "n9"), "another owner for the id")
		require.False(t, r.knows("sess_b", ident.CallID(step.call), step.owner), "another session")
		require.ElementsMatch(t, step.want, r.owners("sess_a", false), "after %s %s", step.method, step.call)
	}
	require.Empty(t, r.remote, "nothing left behind")

	// The owner side keeps the remote devices in its calls, by node.
	d := remoteDevice{r: r, node: "n2", sess: "sess_b"}
	r.noteLeg(d, partyMsg{CallID: "call_n1-cccccccccccccccc", Method: pmIncoming})
	r.noteLeg(d, partyMsg{CallID: "call_n1-dddddddddddddddd", Method: pmIncoming})
	r.noteLeg(d, partyMsg{CallID: "call_n1-cccccccccccccccc", Method: pmEnded})
	require.Len(t, r.legs["n2"], 1)
	r.noteLeg(d, partyMsg{CallID: "call_n1-dddddddddddddddd", Method: pmEnded})
	require.Empty(t, r.legs)
}

// A call.restored relayed from the owner to the device's node keeps the
// call's recording (and a call without one stays without).
func TestRelayRestoredRecording(t *testing.T) {
	for _, rec := range []*call.RecordingInfo{nil, {ID: "rec_1", State: call.RecordingPaused}} {
		raw, err := json.Marshal(partyMsg{Method: pmRestored, Restored: &call.Restored{State: call.StateActive, Recording: rec}})
		require.NoError(t, err)
		var m partyMsg
		require.NoError(t, json.Unmarshal(raw, &m))
		require.Equal(t, rec, m.Restored.Recording)
	}
}
