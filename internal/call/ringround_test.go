package call

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/route"
)

// How one round's outcomes add up to the reason the call ends with.
func TestRingRoundReason(t *testing.T) {
	for _, tt := range []struct {
		name  string
		round ringRound
		want  EndReason
	}{
		{"nothing happened", ringRound{}, EndNoAnswer},
		{"a step rang out", ringRound{timedOut: true, rejected: true, busy: true, failure: EndFailed}, EndNoAnswer},
		{"a callee said why it failed", ringRound{failure: EndBusy, rejected: true}, EndBusy},
		{"declined", ringRound{rejected: true}, EndRejected},
		{"declined, one busy", ringRound{rejected: true, busy: true}, EndBusy},
		{"busy is a decline's flavour only", ringRound{busy: true}, EndNoAnswer},
		{"unreachable", ringRound{failed: true}, EndFailed},
		{"declines before unreachable", ringRound{failed: true, rejected: true}, EndRejected},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.round.reason())
		})
	}
}

func TestRingRoundSteps(t *testing.T) {
	r := newRound(false)
	require.False(t, r.told)
	_, ok := r.next()
	require.False(t, ok, "a new round has nothing to ring")
	steps := []route.Step{{Ring: time.Second}, {Ring: 2 * time.Second}}
	r.plan(steps, "104", route.From{User: "user_b"})
	st, ok := r.next()
	require.True(t, ok)
	require.Equal(t, time.Second, st.Ring)
	st, _ = r.next()
	require.Equal(t, 2*time.Second, st.Ring)
	_, ok = r.next()
	require.False(t, ok)
	dest, from := r.takeForward()
	require.Equal(t, "104", dest)
	require.Equal(t, route.From{User: "user_b"}, from)
	dest, _ = r.takeForward()
	require.Empty(t, dest, "the forward is taken once")

	clock := &fakeClock{}
	fired := 0
	r.timer = clock.AfterFunc(time.Second, func() { fired++ })
	gen := r.gen
	r.stop()
	require.NotEqual(t, gen, r.gen, "a stopped step's timer is stale")
	clock.advance(time.Minute)
	require.Zero(t, fired)
	newRound(true).stop() // no timer yet: harmless
	require.True(t, newRound(true).told)
}

// The fake clock fires due timers in order, once, and honours Stop and Reset.
func TestFakeClock(t *testing.T) {
	c := &fakeClock{}
	var got []string
	a := c.AfterFunc(2*time.Second, func() { got = append(got, "a") })
	c.AfterFunc(time.Second, func() { got = append(got, "b") })
	stopped := c.AfterFunc(time.Second, func() { got = append(got, "never") })
	require.True(t, stopped.Stop())
	require.False(t, stopped.Stop())
	c.advance(time.Second)
	require.Equal(t, []string{"b"}, got)
	require.True(t, a.Reset(3*time.Second), "reset before firing")
	c.advance(2 * time.Second)
	require.Equal(t, []string{"b"}, got)
	c.advance(2 * time.Second)
	require.Equal(t, []string{"b", "a"}, got)
	require.False(t, a.Reset(time.Second), "reset after firing")
	c.advance(time.Second)
	require.Equal(t, []string{"b", "a", "a"}, got)
}
