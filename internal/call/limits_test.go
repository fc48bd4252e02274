package call

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

func TestKeyedLimiterBurstRefillAndExpiry(t *testing.T) {
	k := newKeyedLimiter(5, 10) // refills in 2 s
	t0 := time.Unix(1_000_000, 0)
	for i := range 10 {
		_, err := k.reserve("a", t0, LimitSocket)
		require.Nil(t, err, "call %d within the burst", i)
	}
	_, err := k.reserve("a", t0, LimitSocket)
	require.NotNil(t, err)
	require.Equal(t, LimitSocket, err.Limit)
	require.InDelta(t, 200*time.Millisecond, err.RetryAfter, float64(time.Millisecond))

	// Another key has its own bucket; a refused request costs nothing.
	_, err = k.reserve("b", t0, LimitSocket)
	require.Nil(t, err)
	_, err = k.reserve("a", t0.Add(200*time.Millisecond), LimitSocket)
	require.Nil(t, err, "one token back after 1/rate")

	// Many keys, then quiet for the refill time: the map empties.
	for i := range 1000 {
		_, _ = k.reserve(fmt.Sprint("k", i), t0.Add(time.Second), LimitSocket)
	}
	require.Equal(t, 1002, k.size())
	_, _ = k.reserve("z", t0.Add(4*time.Second), LimitSocket)
	require.Equal(t, 1, k.size(), "buckets idle for the refill time are dropped")
}

func TestKeyedLimiterOff(t *testing.T) {
	for _, k := range []*keyedLimiter{newKeyedLimiter(0, 10), newKeyedLimiter(5, 0)} {
		require.Nil(t, k)
		for range 100 {
			_, err := k.reserve("a", time.Now(), LimitUser)
			require.Nil(t, err)
		}
	}
}

func TestLimitsUserRefusalReturnsSocketToken(t *testing.T) {
	l := newLimits(Limits{SocketRate: 1, SocketBurst: 3, UserRate: 1, UserBurst: 3})
	now := time.Unix(1_000_000, 0)
	for range 3 {
		require.Nil(t, l.allow("sess_1", "user_a", now))
	}
	// The user is spent: a second socket of the user is refused by the
	// user's bucket, and keeps its own tokens.
	e := l.allow("sess_2", "user_a", now)
	require.NotNil(t, e)
	require.Equal(t, LimitUser, e.Limit)
	for range 3 {
		require.Nil(t, l.allow("sess_2", "user_b", now))
	}
	e = l.allow("sess_1", "user_c", now)
	require.NotNil(t, e)
	require.Equal(t, LimitSocket, e.Limit)
}

func TestLimitsAccountCap(t *testing.T) {
	l := newLimits(Limits{MaxPerAccount: 2})
	require.Nil(t, l.start("acct_a", false))
	require.Nil(t, l.start("acct_a", false))
	require.Nil(t, l.start("acct_b", false))
	e := l.start("acct_a", false)
	require.NotNil(t, e)
	require.Equal(t, LimitAccount, e.Limit)
	require.ErrorIs(t, e, ErrRateLimited)
	l.done("acct_a")
	require.Nil(t, l.start("acct_a", false))
	for _, a := range []ident.AccountID{"acct_a", "acct_a", "acct_b"} {
		l.done(a)
	}
	require.Empty(t, l.running, "accounts with no calls are forgotten")
}

// TestManagerRateLimitsCallCreate floods one device: the burst is taken,
// every other call.create is refused rate_limited with its req_id.
func TestManagerRateLimitsCallCreate(t *testing.T) {
	w := newWorld(t, func(o *Options) {
		o.Limits = Limits{SocketRate: 0.001, SocketBurst: 5, UserRate: 0.001, UserBurst: 8, MaxPerAccount: 1000}
	})
	w.device("sess_callee", "user_a")
	a := w.device("sess_a", "user_b")
	for i := range 100 {
		a.send(Create{ReqID: fmt.Sprint("r", i), Destination: "101", SDP: "v=0"})
	}
	b := w.device("sess_b", "user_b") // same user, another socket
	for i := range 100 {
		b.send(Create{ReqID: fmt.Sprint("r", i), Destination: "101", SDP: "v=0"})
	}
	count := func(d *simDevice) (trying int, limited map[string]int) {
		limited = map[string]int{}
		for _, h := range d.snapshot() {
			switch h.what {
			case "trying":
				trying++
			case "error:rate_limited":
				r := h.info.(Refusal)
				require.NotEmpty(t, r.ReqID)
				limited[r.Limit.Limit]++
			}
		}
		return trying, limited
	}
	trying, limited := count(a)
	require.Equal(t, 5, trying)
	require.Equal(t, map[string]int{LimitSocket: 95}, limited)
	trying, limited = count(b)
	require.Equal(t, 3, trying, "the user's burst of 8 less the 5 of the first socket")
	require.Equal(t, map[string]int{LimitUser: 97}, limited)
	require.Equal(t, 8, w.m.lim.count("acct_a"))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, w.m.Shutdown(ctx))
	require.Equal(t, 0, w.m.lim.count("acct_a"), "ended calls leave the account count")
}

// TestManagerAccountCap refuses a call beyond the account's cap, on
// call.create and on a SIP placement, until a call ends.
func TestManagerAccountCap(t *testing.T) {
	w := newWorld(t, func(o *Options) { o.Limits = Limits{MaxPerAccount: 3} })
	w.device("sess_callee", "user_a")
	devs := []*simDevice{w.device("s1", "user_b"), w.device("s2", "user_b"), w.device("s3", "user_d"), w.device("s4", "user_d")}
	for _, d := range devs {
		d.send(Create{ReqID: "r", Destination: "101", SDP: "v=0"})
	}
	last := devs[3].snapshot()
	require.Len(t, last, 1)
	require.Equal(t, "error:rate_limited", last[0].what)
	r := last[0].info.(Refusal)
	require.Equal(t, "r", r.ReqID)
	require.Equal(t, &LimitError{Limit: LimitAccount, Max: 3}, r.Limit)

	_, _, err := w.m.Place(nil, Placement{Account: "acct_a", User: "user_c", Destination: "102"})
	require.ErrorIs(t, err, ErrRateLimited)
	var le *LimitError
	require.True(t, errors.As(err, &le))
	require.Equal(t, LimitAccount, le.Limit)

	// Hanging up one call makes room.
	devs[0].hangup(ident.CallID(devs[0].snapshot()[0].call))
	require.Eventually(t, func() bool { return w.m.lim.count("acct_a") == 2 }, 5*time.Second, time.Millisecond)
	devs[3].send(Create{ReqID: "r2", Destination: "101", SDP: "v=0"})
	require.Equal(t, "trying", devs[3].snapshot()[1].what)
}
