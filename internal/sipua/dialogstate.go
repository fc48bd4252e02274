package sipua

import (
	"errors"
	"fmt"
)

// dialogState is where a SIP party's dialog stands, as the party sees it:
//
//	early ──┬──► denied ──┐
//	        │      │      │
//	        │      ▼      │
//	        ├──► refused ─┤
//	        │             ▼
//	        └─────────► answered ──► ended
//
// and early, denied and refused go straight to ended when the call ends
// unanswered.
//
// early: no final answer yet. answered: the call is connected (the
// answering side has handed its INVITE a 200; the calling side has
// acknowledged the far end's 2xx). refused: the answering side's offer was
// unusable (invalid_message), so its INVITE fails with 488 if the call ends
// unanswered. denied: the dial plan does not allow the answering side's
// call: 403 if it ends unanswered. A refusal decides only the final
// response of a call that ends unanswered; 488 outranks 403. ended: the
// call is over for the party; nothing follows.
//
// The zero value is early: a party starts before any answer, and there is
// no dialog whose state is unknown. The owner guards it with its mutex.
type dialogState int

const (
	dialogEarly dialogState = iota
	dialogAnswered
	dialogRefused
	dialogDenied
	dialogEnded
)

// dialogEdges lists the legal moves; anything else is errDialogEdge.
var dialogEdges = map[dialogState][]dialogState{
	dialogEarly:    {dialogAnswered, dialogRefused, dialogDenied, dialogEnded},
	dialogRefused:  {dialogAnswered, dialogEnded},
	dialogDenied:   {dialogAnswered, dialogRefused, dialogEnded},
	dialogAnswered: {dialogEnded},
}

// errDialogEdge is a move the dialog cannot make.
var errDialogEdge = errors.New("illegal dialog state change")

func (s dialogState) String() string {
	switch s {
	case dialogEarly:
		return "early"
	case dialogAnswered:
		return "answered"
	case dialogRefused:
		return "refused"
	case dialogDenied:
		return "denied"
	case dialogEnded:
		return "ended"
	}
	return fmt.Sprintf("dialogState(%d)", int(s))
}

// move changes the state to next, or leaves it as it is and returns an
// error wrapping errDialogEdge when the edge is not in the table.
func (s *dialogState) move(next dialogState) error {
	for _, to := range dialogEdges[*s] {
		if to == next {
			*s = next
			return nil
		}
	}
	return fmt.Errorf("%w: %s → %s", errDialogEdge, *s, next)
}
