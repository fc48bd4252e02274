package sipua

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDialogStateMove(t *testing.T) {
	states := []dialogState{dialogEarly, dialogAnswered, dialogRefused, dialogDenied, dialogEnded}
	legal := map[[2]dialogState]string{
		{dialogEarly, dialogAnswered}:   "the call is answered",
		{dialogEarly, dialogRefused}:    "the caller's offer is unusable",
		{dialogEarly, dialogDenied}:     "the dial plan refuses the call",
		{dialogEarly, dialogEnded}:      "the call ends unanswered",
		{dialogRefused, dialogAnswered}: "a refusal that did not end the call (an ICE candidate) leaves it free to connect",
		{dialogRefused, dialogEnded}:    "the caller's INVITE fails with 488",
		{dialogDenied, dialogAnswered}:  "answered wins over any refusal",
		{dialogDenied, dialogRefused}:   "488 outranks 403",
		{dialogDenied, dialogEnded}:     "the caller's INVITE fails with 403",
		{dialogAnswered, dialogEnded}:   "an answered call ends with BYE",
	}
	for _, from := range states {
		for _, to := range states {
			why, ok := legal[[2]dialogState{from, to}]
			t.Run(from.String()+"→"+to.String(), func(t *testing.T) {
				s := from
				err := s.move(to)
				if ok {
					require.NoError(t, err, why)
					require.Equal(t, to, s)
					return
				}
				require.ErrorIs(t, err, errDialogEdge)
				require.Equal(t, from, s, "an illegal move leaves the state as it was")
			})
		}
	}
}

func TestDialogStateZeroIsEarly(t *testing.T) {
	var s dialogState
	require.Equal(t, dialogEarly, s)
	require.Equal(t, "early", s.String())
	require.Equal(t, "dialogState(9)", dialogState(9).String())
}
