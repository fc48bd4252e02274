package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// presenceLatency bounds how soon after a change a watcher hears of it.
// The goal is 200 ms, and an idle machine shows 10-70 ms (the tests log
// the figures); the bound is looser because a CI run with -race beside a
// busy neighbour took longer than 200 ms once: a test asserts a bound that
// catches a broken fan-out (a poll, a lost wake-up), not the speed.
const presenceLatency = time.Second

// watcher is a raw socket subscribed to presence; a goroutine stamps each
// frame with the time it arrived.
type watcher struct {
	t      *testing.T
	w      *harness.WS
	frames chan stamped
	done   chan struct{}
	seen   map[string][]stamped // updates read, by user, not yet matched by until
}

type stamped struct {
	at  time.Time
	msg protocol.Message
}

func newWatcher(t *testing.T, s *harness.Server, u store.User) *watcher {
	t.Helper()
	w, _ := s.Connect(t, s.Token(t, u, time.Hour))
	pw := &watcher{t: t, w: w, frames: make(chan stamped, 256), done: make(chan struct{}), seen: map[string][]stamped{}}
	go func() {
		defer close(pw.done)
		for {
			m, err := w.ReadTimeout(time.Hour)
			if err != nil {
				return
			}
			pw.frames <- stamped{time.Now(), m}
		}
	}()
	t.Cleanup(func() {
		_ = w.Conn.CloseNow()
		<-pw.done
	})
	return pw
}

// next returns the next frame.
func (pw *watcher) next() stamped {
	pw.t.Helper()
	select {
	case f := <-pw.frames:
		return f
	case <-time.After(5 * time.Second):
		pw.t.Fatal("watcher: no frame in 5 s")
	}
	return stamped{}
}

// until returns the first update of user with status want (and when it
// arrived) that an earlier until did not return, skipping the user's
// updates before it; other users' updates are kept for later calls.
func (pw *watcher) until(user store.User, want protocol.PresenceStatus) (protocol.PresenceEntry, time.Time) {
	pw.t.Helper()
	id := string(user.ID)
	for {
		for i, f := range pw.seen[id] {
			if u := f.msg.(*protocol.PresenceUpdate); u.Status == want {
				pw.seen[id] = pw.seen[id][i+1:]
				return u.PresenceEntry, f.at
			}
		}
		pw.seen[id] = nil
		f := pw.next()
		u, ok := f.msg.(*protocol.PresenceUpdate)
		require.True(pw.t, ok, "want presence.update, got %#v", f.msg)
		pw.seen[u.UserID] = append(pw.seen[u.UserID], f)
	}
}

func (pw *watcher) subscribe(reqID string, users ...string) *protocol.PresenceList {
	pw.t.Helper()
	pw.w.Send(map[string]any{"type": "presence.subscribe", "req_id": reqID, "users": users})
	f := pw.next()
	l, ok := f.msg.(*protocol.PresenceList)
	require.True(pw.t, ok, "the list comes first, got %#v", f.msg)
	require.Equal(pw.t, reqID, l.ReqID)
	return l
}

func entryFor(l *protocol.PresenceList, u store.User) protocol.PresenceEntry {
	for _, e := range l.Users {
		if e.UserID == string(u.ID) {
			return e
		}
	}
	return protocol.PresenceEntry{}
}

// TestPresenceFollowsCalls: a third user watches two softphones call each
// other; on_call and available reach it within 200 ms of the answer and
// the hangup, and offline once a socket is gone past the reconnect grace.
func TestPresenceFollowsCalls(t *testing.T) {
	const grace = 500 * time.Millisecond
	s := harness.Start(t, func(c *config.Config) { c.Signal.ReconnectGrace = grace })
	carol := newWatcher(t, s, s.Carol)
	l := carol.subscribe("p1", string(s.Alice.ID), string(s.Bob.ID), "user_nobody")
	require.Len(t, l.Users, 2)
	a := entryFor(l, s.Alice)
	require.Equal(t, protocol.PresenceOffline, a.Status)
	require.Equal(t, s.Alice.Name, a.Name)
	require.NotEmpty(t, a.UpdatedAt)
	e, ok := carol.next().msg.(*protocol.Error)
	require.True(t, ok)
	require.Equal(t, protocol.CodePresenceUnavailable, e.Code)
	require.Equal(t, "p1", e.ReqID)
	require.Equal(t, []any{"user_nobody"}, e.Context["users"])

	alice := s.Phone(t, s.Alice, 440, "")
	carol.until(s.Alice, protocol.PresenceAvailable)
	bob := s.Phone(t, s.Bob, 880, "")
	carol.until(s.Bob, protocol.PresenceAvailable)

	placed := time.Now()
	out, err := alice.Call(harness.Ctx(t, 10*time.Second), "102")
	require.NoError(t, err)
	in := harness.NextIncoming(t, bob)
	require.NoError(t, in.Answer(harness.Ctx(t, 10*time.Second)))
	harness.Wait(t, in, protocol.TypeCallAnswered)
	answered := time.Now()
	// Both are on_call from the ring on: the answer never finds them otherwise.
	_, aliceOn := carol.until(s.Alice, protocol.PresenceOnCall)
	_, bobOn := carol.until(s.Bob, protocol.PresenceOnCall)
	onCall := max(aliceOn.Sub(answered), bobOn.Sub(answered))
	require.LessOrEqual(t, onCall, presenceLatency, "on_call %v after the answer", onCall)
	placing := aliceOn.Sub(placed)
	require.LessOrEqual(t, placing, presenceLatency, "the caller on_call %v after call.create", placing)

	harness.HearsTone(t, out, 880)
	hungUp := time.Now()
	require.NoError(t, out.Hangup())
	_, aliceFree := carol.until(s.Alice, protocol.PresenceAvailable)
	_, bobFree := carol.until(s.Bob, protocol.PresenceAvailable)
	free := max(aliceFree.Sub(hungUp), bobFree.Sub(hungUp))
	require.LessOrEqual(t, free, presenceLatency, "available %v after the hangup", free)
	harness.WaitEnded(t, in, protocol.EndHangup)
	t.Logf("presence latency: caller on_call %v after call.create; both on_call %v relative to the answer (negative: already from the ring); both available %v after the hangup",
		placing.Round(time.Microsecond), onCall.Round(time.Microsecond), free.Round(time.Microsecond))

	closed := time.Now()
	require.NoError(t, bob.Close())
	_, bobOff := carol.until(s.Bob, protocol.PresenceOffline)
	after := bobOff.Sub(closed)
	require.GreaterOrEqual(t, after, grace-50*time.Millisecond, "offline before the grace period ended")
	require.Less(t, after, grace+time.Second)
	t.Logf("presence: offline %v after the socket closed (grace %v)", after.Round(time.Millisecond), grace)
}

// TestPresenceSIPRegistration: a desk phone's registration is a device.
func TestPresenceSIPRegistration(t *testing.T) {
	s := harness.Start(t, nil)
	carol := newWatcher(t, s, s.Carol)
	l := carol.subscribe("p1", string(s.Alice.ID))
	require.Equal(t, protocol.PresenceOffline, entryFor(l, s.Alice).Status)

	ua, err := sipgo.NewUA()
	require.NoError(t, err)
	defer ua.Close()
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	require.NoError(t, err)
	defer client.Close()
	contact := "<sip:101@127.0.0.1:5999;transport=udp>"
	registerDigestExpires(t, client, s.SIP.Addr(), "UDP", "101", "alice-sip-pass", contact, 120)
	carol.until(s.Alice, protocol.PresenceAvailable)
	registerDigestExpires(t, client, s.SIP.Addr(), "UDP", "101", "alice-sip-pass", contact, 0)
	carol.until(s.Alice, protocol.PresenceOffline)
}

// TestPresenceREST: the status a user sets, the admin's view, and do not
// disturb set by the admin API reach watchers.
func TestPresenceREST(t *testing.T) {
	s := harness.Start(t, nil)
	carol := newWatcher(t, s, s.Carol)
	carol.subscribe("p1", string(s.Alice.ID))
	tok := s.Token(t, s.Alice, time.Hour)

	r := s.Do(t, "PUT", "/v1/me/presence", tok, map[string]any{"status_text": "  In a meeting  ", "do_not_disturb": true})
	require.Equal(t, 200, r.Status, string(r.Raw))
	require.Equal(t, "In a meeting", r.Body["status_text"])
	require.Equal(t, true, r.Body["do_not_disturb"])
	require.Equal(t, "offline", r.Body["status"])
	f := carol.next()
	u, ok := f.msg.(*protocol.PresenceUpdate)
	require.True(t, ok, "%#v", f.msg)
	require.Equal(t, "In a meeting", u.StatusText)
	require.True(t, u.DoNotDisturb)

	r = s.Do(t, "GET", "/v1/users/"+string(s.Alice.ID)+"/presence", admin, nil)
	require.Equal(t, 200, r.Status, string(r.Raw))
	require.Equal(t, "In a meeting", r.Body["status_text"])
	require.Equal(t, u.UpdatedAt, r.Body["updated_at"])
	require.Equal(t, 403, s.Do(t, "GET", "/v1/users/"+string(s.Alice.ID)+"/presence", tok, nil).Status)
	require.Equal(t, 404, s.Do(t, "GET", "/v1/users/user_nobody/presence", admin, nil).Status)

	r = s.Do(t, "PATCH", "/v1/users/"+string(s.Alice.ID), admin, map[string]any{"do_not_disturb": false})
	require.Equal(t, 200, r.Status, string(r.Raw))
	f = carol.next()
	u, ok = f.msg.(*protocol.PresenceUpdate)
	require.True(t, ok, "%#v", f.msg)
	require.False(t, u.DoNotDisturb)
	require.Equal(t, "In a meeting", u.StatusText)

	for _, tc := range []struct {
		name, body, field string
	}{
		{"too long", `{"status_text":"` + strings.Repeat("é", 101) + `"}`, "status_text"},
		{"control character", `{"status_text":"a\nb"}`, "status_text"},
		{"wrong type", `{"do_not_disturb":"yes"}`, "do_not_disturb"},
		{"nothing to set", `{}`, "status_text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Do(t, "PUT", "/v1/me/presence", tok, tc.body)
			require.Equal(t, 422, r.Status, string(r.Raw))
			require.Equal(t, map[string]any{"field": tc.field}, r.Body["details"])
		})
	}
	require.Equal(t, 401, s.Do(t, "PUT", "/v1/me/presence", "", `{"do_not_disturb":true}`).Status)
}

// TestPresenceOtherAccount: users of another account are unavailable, and
// a later subscribe adds to the set.
func TestPresenceOtherAccount(t *testing.T) {
	s := harness.Start(t, nil)
	ctx := context.Background()
	other := store.Account{Name: "Other"}
	require.NoError(t, s.Store.CreateAccount(ctx, &other))
	dave := store.User{AccountID: other.ID, Name: "Dave", Extension: "201", SIPUsername: "dave201", SIPPassword: "dave-sip-pass"}
	require.NoError(t, s.Store.CreateUser(ctx, &dave))

	carol := newWatcher(t, s, s.Carol)
	l := carol.subscribe("p1", string(dave.ID))
	require.Empty(t, l.Users)
	e, ok := carol.next().msg.(*protocol.Error)
	require.True(t, ok)
	require.Equal(t, protocol.CodePresenceUnavailable, e.Code)
	require.Equal(t, []any{string(dave.ID)}, e.Context["users"])
	require.False(t, e.Fatal)

	l = carol.subscribe("p2", string(s.Alice.ID), string(s.Alice.ID))
	require.Len(t, l.Users, 1)
	l = carol.subscribe("p3", string(s.Bob.ID), string(s.Alice.ID)) // alice again: in the list, watched once
	require.Len(t, l.Users, 2)
	s.Phone(t, s.Alice, 0, "")
	carol.until(s.Alice, protocol.PresenceAvailable)
	select {
	case f := <-carol.frames:
		t.Fatalf("one change, one update: got %#v too", f.msg)
	case <-time.After(300 * time.Millisecond):
	}
	// Dave's own watcher sees him, not the others.
	dw, _ := s.Connect(t, s.Token(t, dave, time.Hour))
	dw.Send(map[string]any{"type": "presence.subscribe", "req_id": "d1", "users": []string{string(dave.ID), string(s.Alice.ID)}})
	dl, ok := dw.Read().(*protocol.PresenceList)
	require.True(t, ok)
	require.Len(t, dl.Users, 1)
	require.Equal(t, string(dave.ID), dl.Users[0].UserID)
	dw.ReadError(protocol.CodePresenceUnavailable)
}

// TestPresenceSubscribeFlood: presence.subscribe frames past the socket's
// burst are answered rate_limited (context.limit "presence"), each with its
// req_id; the socket stays open.
func TestPresenceSubscribeFlood(t *testing.T) {
	s := harness.Start(t, nil)
	w, _ := s.Connect(t, s.Token(t, s.Carol, time.Hour))
	const n = 40
	start := time.Now()
	for i := range n {
		w.Send(map[string]any{"type": "presence.subscribe", "req_id": fmt.Sprint("p", i), "users": []string{"user_nobody" + fmt.Sprint(i)}})
	}
	limited, answered := 0, 0
	for answered < n {
		switch m := w.Read().(type) {
		case *protocol.PresenceList:
			answered++
		case *protocol.Error:
			if m.Code == protocol.CodeRateLimited {
				require.Equal(t, "presence", m.Context["limit"])
				require.NotEmpty(t, m.ReqID)
				require.False(t, m.Fatal)
				limited++
				answered++
			}
		}
	}
	took := time.Since(start)
	t.Logf("%d presence.subscribe at once: %d refused (in %v)", n, limited, took.Round(time.Millisecond))
	// The burst (20) goes through, and the tokens that came back meanwhile (2 a second).
	require.GreaterOrEqual(t, limited, n-20-1-int(took.Seconds()*2))
	require.Less(t, limited, n-20+1)
	requireOpen(t, w)
}
