package call

import (
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEndReasonForSIP(t *testing.T) {
	for status, want := range map[int]EndReason{
		486: "busy", 600: "busy", 603: "rejected", 408: "no-answer", 480: "no-answer", 487: "no-answer",
		404: "failed", 484: "failed", 500: "failed", 503: "failed", 403: "failed",
	} {
		require.Equal(t, want, EndReasonForSIP(status), "%d", status)
	}
}

func TestTransitions(t *testing.T) {
	require.NoError(t, checkTransition(StateTrying, StateRinging))
	require.NoError(t, checkTransition(StateAnswering, StateActive))
	require.Error(t, checkTransition(StateTrying, StateAnswering))
	require.Error(t, checkTransition(StateEnded, StateActive))
	require.Equal(t, "ringing", StateRinging.String())
}

// TestNoMediaOrSIPImports keeps the call core free of pion and sipgo.
func TestNoMediaOrSIPImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	require.NoError(t, err)
	for _, dep := range strings.Fields(string(out)) {
		require.False(t, strings.HasPrefix(dep, "github.com/pion/"), "internal/call imports %s", dep)
		require.False(t, strings.HasPrefix(dep, "github.com/emiago/sipgo"), "internal/call imports %s", dep)
	}
}

// TestNoWireImports keeps the browser protocol at the edge: the call core,
// what it depends on, and its tests speak typed commands and events
// (internal/callwire translates).
func TestNoWireImports(t *testing.T) {
	deps, err := exec.Command("go", "list", "-deps", ".").Output()
	require.NoError(t, err)
	tests, err := exec.Command("go", "list", "-f", "{{join .TestImports \" \"}}", ".").Output()
	require.NoError(t, err)
	for _, imp := range strings.Fields(string(deps) + " " + string(tests)) {
		require.NotEqual(t, "github.com/switchboard-voice/switchboard/internal/protocol", imp, "internal/call imports the wire protocol")
		require.NotEqual(t, "github.com/switchboard-voice/switchboard/internal/signal", imp, "internal/call imports the hub")
	}
}

// An illegal edge leaves the state as it was, and is returned and reported.
func TestSetStateRefusesIllegalEdges(t *testing.T) {
	var reported []error
	m := &Manager{log: slog.New(slog.NewTextHandler(io.Discard, nil)), onIllegal: func(err error) { reported = append(reported, err) }}
	c := &Call{m: m, state: StateTrying}
	require.NoError(t, c.setState(StateRinging))
	err := c.setState(StateHeld)
	require.ErrorAs(t, err, &ErrIllegalTransition{})
	require.Equal(t, "call: illegal transition ringing → held", err.Error())
	require.Equal(t, StateRinging, c.state)
	require.Equal(t, []error{err}, reported)
	for from, tos := range transitions {
		for _, to := range tos {
			require.NoError(t, checkTransition(from, to))
		}
		require.Error(t, checkTransition(from, StateUnknown))
	}
	for _, to := range []State{StateTrying, StateRinging, StateActive, StateEnded} {
		require.Error(t, checkTransition(StateEnded, to), "ended is terminal")
	}
}
