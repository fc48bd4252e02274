package call

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
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
	require.Nil(t, l.start("acct_a"))
	require.Nil(t, l.start("acct_a"))
	require.Nil(t, l.start("acct_b"))
	e := l.start("acct_a")
	require.NotNil(t, e)
	require.Equal(t, LimitAccount, e.Limit)
	require.ErrorIs(t, e, ErrRateLimited)
	l.done("acct_a")
	require.Nil(t, l.start("acct_a"))
	for _, a := range []ident.AccountID{"acct_a", "acct_a", "acct_b"} {
		l.done(a)
	}
	require.Empty(t, l.running, "accounts with no calls are forgotten")
}

func TestLimitErrorFrame(t *testing.T) {
	f := (&LimitError{Limit: LimitSocket, RetryAfter: 199*time.Millisecond + 500*time.Microsecond}).Frame("r1")
	require.Equal(t, protocol.CodeRateLimited, f.Code)
	require.Equal(t, "r1", f.ReqID)
	require.Empty(t, f.CallID)
	require.False(t, f.Fatal)
	require.Equal(t, map[string]any{"limit": "socket", "retry_after_ms": int64(200)}, f.Context)
	f = (&LimitError{Limit: LimitAccount, Max: 7}).Frame("")
	require.Equal(t, map[string]any{"limit": "account", "max": 7}, f.Context)
}

// newLimitedManager's calls to 101 ring a device of user_a for a minute.
func newLimitedManager(l Limits) *Manager {
	callee := &fakeDevice{id: "sess_callee", user: "user_a"}
	return NewManager(fakeFactory{}, fakeDir{}, fakeDevices{[]*fakeDevice{callee}}, fakeRecords{},
		Options{RingTimeout: time.Minute, Limits: l}, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func (d *fakeDevice) messages() []protocol.Message {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]protocol.Message(nil), d.got...)
}

// TestManagerRateLimitsCallCreate floods one device: the burst is taken,
// every other call.create is answered rate_limited with its req_id.
func TestManagerRateLimitsCallCreate(t *testing.T) {
	m := newLimitedManager(Limits{SocketRate: 0.001, SocketBurst: 5, UserRate: 0.001, UserBurst: 8, MaxPerAccount: 1000})
	a := &fakeDevice{id: "sess_a", user: "user_b"}
	for i := range 100 {
		m.Handle(a, &protocol.CallCreate{ReqID: fmt.Sprint("r", i), Destination: "101", SDP: "v=0"})
	}
	b := &fakeDevice{id: "sess_b", user: "user_b"} // same user, another socket
	for i := range 100 {
		m.Handle(b, &protocol.CallCreate{ReqID: fmt.Sprint("r", i), Destination: "101", SDP: "v=0"})
	}
	count := func(d *fakeDevice) (trying int, limited map[string]int) {
		limited = map[string]int{}
		for _, msg := range d.messages() {
			switch msg := msg.(type) {
			case *protocol.CallTrying:
				trying++
			case *protocol.Error:
				if msg.Code == protocol.CodeRateLimited {
					require.NotEmpty(t, msg.ReqID)
					limited[msg.Context["limit"].(string)]++
				}
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
	require.Equal(t, 8, m.lim.count("acct_a"))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, m.Shutdown(ctx))
	require.Equal(t, 0, m.lim.count("acct_a"), "ended calls leave the account count")
}

// TestManagerAccountCap refuses a call beyond the account's cap, on
// call.create and on a SIP placement, until a call ends.
func TestManagerAccountCap(t *testing.T) {
	m := newLimitedManager(Limits{MaxPerAccount: 3})
	devs := []*fakeDevice{{id: "s1", user: "user_b"}, {id: "s2", user: "user_b"}, {id: "s3", user: "user_d"}, {id: "s4", user: "user_d"}}
	for _, d := range devs {
		m.Handle(d, &protocol.CallCreate{ReqID: "r", Destination: "101", SDP: "v=0"})
	}
	last := devs[3].messages()
	require.Len(t, last, 1)
	e, ok := last[0].(*protocol.Error)
	require.True(t, ok, "got %T", last[0])
	require.Equal(t, protocol.CodeRateLimited, e.Code)
	require.Equal(t, "r", e.ReqID)
	require.Equal(t, map[string]any{"limit": "account", "max": 3}, e.Context)

	_, _, err := m.Place(nil, Placement{Account: "acct_a", User: "user_c", Destination: "102"})
	require.ErrorIs(t, err, ErrRateLimited)
	var le *LimitError
	require.True(t, errors.As(err, &le))
	require.Equal(t, LimitAccount, le.Limit)

	// Hanging up one call makes room.
	tr := devs[0].messages()[0].(*protocol.CallTrying)
	m.Handle(devs[0], &protocol.CallHangup{CallID: tr.CallID})
	require.Eventually(t, func() bool { return m.lim.count("acct_a") == 2 }, 5*time.Second, 10*time.Millisecond)
	m.Handle(devs[3], &protocol.CallCreate{ReqID: "r2", Destination: "101", SDP: "v=0"})
	_, ok = devs[3].messages()[1].(*protocol.CallTrying)
	require.True(t, ok)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, m.Shutdown(ctx))
}
