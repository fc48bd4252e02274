package call

import "github.com/switchboard-voice/switchboard/internal/route"

// ringRound is one round of forking: the routing steps still to ring (and
// the forward after them), how the targets rung so far turned out, and
// the current step's timer. Its outcomes add up to the reason the call
// ends with when nobody answers. A blind transfer's new target and a
// recall start a new round: a new value, never a reset of this one.
type ringRound struct {
	steps    []route.Step // still to ring, then then
	then     string       // where to forward once the steps are done ("" none)
	thenFrom route.From   // who places that forward

	told  bool  // the caller heard call.ringing
	timer Timer // the current step's ring time
	gen   int   // bumps at each step, so that a stale step timer is ignored

	timedOut bool      // a step rang out
	rejected bool      // a callee declined
	busy     bool      // a callee declined as busy
	failed   bool      // a target could not be reached at all
	failure  EndReason // why the last unreachable callee failed, when it knew
}

// newRound starts a round; told says the caller needs no call.ringing
// (a transferred party waits with ringback).
func newRound(told bool) *ringRound { return &ringRound{told: told} }

// plan sets what the round rings: a plan's steps and forward.
func (r *ringRound) plan(steps []route.Step, then string, from route.From) {
	r.steps, r.then, r.thenFrom = steps, then, from
}

// next takes the next step, if any.
func (r *ringRound) next() (route.Step, bool) {
	if len(r.steps) == 0 {
		return route.Step{}, false
	}
	st := r.steps[0]
	r.steps = r.steps[1:]
	return st, true
}

// stop ends the current step: its timer will not fire, or is ignored.
func (r *ringRound) stop() {
	r.gen++
	if r.timer != nil {
		r.timer.Stop()
	}
}

// takeForward returns the forward after the steps, once.
func (r *ringRound) takeForward() (dest string, from route.From) {
	dest, r.then = r.then, ""
	return dest, r.thenFrom
}

// reason is why the call ends when the round gave up: a step rang out
// (no-answer) before a callee's own reason, before declines (busy if any
// said busy), before unreachable targets.
func (r *ringRound) reason() EndReason {
	switch {
	case r.timedOut:
		return EndNoAnswer
	case r.failure != "":
		return r.failure
	case r.rejected && r.busy:
		return EndBusy
	case r.rejected:
		return EndRejected
	case r.failed:
		return EndFailed
	}
	return EndNoAnswer
}
