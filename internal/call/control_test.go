package call

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// What one party hears from the other, for every hold and mute.
func TestFeedFor(t *testing.T) {
	for _, tt := range []struct {
		listenerHolds, talkerHolds, talkerMuted bool
		want                                    Feed
	}{
		{false, false, false, FeedForward},
		{false, false, true, FeedSilence},
		{true, false, false, FeedSilence},
		{true, false, true, FeedSilence},
		{false, true, false, FeedMusic},
		{false, true, true, FeedMusic},
		{true, true, false, FeedMusic},
		{true, true, true, FeedMusic},
	} {
		listener := &leg{holding: tt.listenerHolds}
		talker := &leg{holding: tt.talkerHolds, muted: tt.talkerMuted}
		require.Equal(t, tt.want, feedFor(listener, talker), "%+v", tt)
	}
}

func TestNames(t *testing.T) {
	require.Equal(t, "held", StateHeld.String())
	require.Equal(t, "state(42)", State(42).String())
	require.Equal(t, "invalid", CodeInvalid.String())
	require.Equal(t, "code(42)", ErrorCode(42).String())
	require.Equal(t, "no-answer", EndNoAnswer.String())
	require.Equal(t, "caller", roleCaller.String())
	require.Equal(t, "callee", roleCallee.String())
	require.Equal(t, "user_a", partyName(&leg{user: "user_a", num: "101"}))
	require.Equal(t, "+12125550100", partyName(&leg{num: "+12125550100"}))
	require.Equal(t, "phone:x", partyName(&leg{party: &simParty{key: "phone:x"}}))
}

// Where a blind transfer may go.
func TestTransferPlan(t *testing.T) {
	w := newWorld(t)
	c := &Call{m: w.m, account: "acct_a", ctx: context.Background()}
	l := &leg{user: "user_a"}
	for dest, want := range map[string]string{
		"104":          "",
		"+12125550100": "",
		"*43":          "a call cannot be transferred to a feature code",
		"199":          "no route: no user or ring group has extension 199",
	} {
		_, msg := c.transferPlan(l, dest)
		require.Equal(t, want, msg, dest)
	}
}
