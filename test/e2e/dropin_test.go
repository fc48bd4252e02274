package e2e

// Clients written for DialStack's browser SDK, unchanged, against
// Switchboard (issue 14): candidates trickled under the req_id, resuming a
// session without session_id, and the /v1/me REST family.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// settled makes sure the server has read everything p sent so far: frames
// of one socket are handled in order, and a ping is answered after them.
func settled(t *testing.T, p *softphone.Phone) {
	t.Helper()
	_, err := p.Request(harness.Ctx(t, 5*time.Second), protocol.Ping{})
	require.NoError(t, err)
}

// noErrors requires that no error frame reached p or its calls.
func noErrors(t *testing.T, p *softphone.Phone, calls ...*softphone.Call) {
	t.Helper()
	select {
	case e := <-p.Errors():
		t.Fatalf("unexpected error frame: %v", e)
	default:
	}
	for _, c := range calls {
		for _, m := range c.History() {
			if e, ok := m.(*protocol.Error); ok {
				t.Fatalf("unexpected error frame on %s: %s %s", c.ID, e.Code, e.Message)
			}
		}
	}
}

func TestDropInCandidatesUnderReqID(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	carol := s.Phone(t, s.Carol, 700, "")

	// Outbound: candidates go out under the req_id before call.create.
	out, err := alice.Call(harness.Ctx(t, 10*time.Second), "102", softphone.WithReqIDTrickle())
	require.NoError(t, err)
	in := harness.NextIncoming(t, bob)
	answer(t, in)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	harness.HearsTone(t, out, 1000)
	harness.HearsTone(t, in, 440)

	// Stray candidates: unknown ids, another user's call. Dropped silently.
	for _, m := range []protocol.Message{
		protocol.ICECandidate{CallID: "call_unknown", Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host"},
		protocol.ICEDone{CallID: "call_unknown"},
		protocol.ICECandidate{CallID: "whatever-7", Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host"},
		protocol.ICEDone{CallID: "whatever-7"},
	} {
		require.NoError(t, alice.Send(m))
		require.NoError(t, carol.Send(m))
	}
	require.NoError(t, carol.Send(protocol.ICECandidate{CallID: out.ID, Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host"}))
	require.NoError(t, carol.Send(protocol.ICEDone{CallID: out.ID}))
	settled(t, alice)
	settled(t, carol)
	noErrors(t, alice, out)
	noErrors(t, carol)

	// Consult (attended transfer): the same under the consult's req_id.
	cons, err := in.AttendedTransfer(harness.Ctx(t, 10*time.Second), "103", softphone.WithReqIDTrickle())
	require.NoError(t, err)
	harness.Wait(t, in, protocol.TypeCallHeld)
	fromBob := harness.NextIncoming(t, carol)
	answer(t, fromBob)
	harness.Wait(t, cons, protocol.TypeCallAnswered)
	harness.HearsTone(t, cons, 700)
	harness.HearsTone(t, fromBob, 1000)
	require.NoError(t, in.CompleteTransfer())
	harness.WaitEnded(t, cons, protocol.EndTransferred)
	out.Detector().Reset()
	harness.HearsTone(t, out, 700)
	settled(t, bob)
	noErrors(t, bob, in, cons)
	noErrors(t, alice, out)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, fromBob, protocol.EndHangup)
}

// waitDetached waits until the server has noticed that sessionID's socket
// is gone.
func waitDetached(t *testing.T, s *harness.Server, sessionID string) {
	t.Helper()
	harness.CheckFor(t, 5*time.Second, func() error {
		sess := s.Hub.Session(ident.SessionID(sessionID))
		if sess == nil {
			return errors.New("session is gone")
		}
		if sess.Connected() {
			return errors.New("session still has its socket")
		}
		return nil
	})
}

func TestDropInResumeWithoutSessionID(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	out, in := harness.Connected(t, alice, bob, "102")
	harness.HearsTone(t, in, 440)
	sessionID := bob.SessionID()

	bob.DropConnection()
	waitDetached(t, s, sessionID)
	in.Detector().Reset()
	out.Detector().Reset()
	harness.HearsTone(t, in, 440) // media does not ride on the socket
	harness.HearsTone(t, out, 1000)

	require.NoError(t, bob.ReconnectWithoutSession(harness.Ctx(t, 10*time.Second)))
	require.True(t, bob.Reconnected())
	require.Equal(t, sessionID, bob.SessionID())
	// The call is controllable from the resumed socket.
	require.NoError(t, in.Hold())
	require.Equal(t, protocol.HeldLocal, heldBy(t, harness.Wait(t, in, protocol.TypeCallHeld)))
	require.Equal(t, protocol.HeldRemote, heldBy(t, harness.Wait(t, out, protocol.TypeCallHeld)))
	harness.HearsMusic(t, out, 1000)
	require.NoError(t, in.Resume())
	harness.Wait(t, in, protocol.TypeCallResumed)
	harness.Wait(t, out, protocol.TypeCallResumed)
	out.Detector().Reset()
	in.Detector().Reset()
	harness.HearsTone(t, out, 1000)
	harness.HearsTone(t, in, 440)
	// Such a client gets no call.restored (DialStack's SDK reports one as an error).
	for _, m := range in.History() {
		require.NotEqual(t, protocol.TypeCallRestored, m.MessageType())
	}
	noErrors(t, bob, in)
	require.NoError(t, in.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	harness.WaitEnded(t, in, protocol.EndHangup)
}

// TestDropInResumeReplaysMissed: what the server sent while the socket was
// down reaches a client that resumed without session_id (it gets no
// call.restored to sum it up): here the answer of the call it placed.
func TestDropInResumeReplaysMissed(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	out, err := alice.Call(harness.Ctx(t, 10*time.Second), "102", softphone.WithReqIDTrickle())
	require.NoError(t, err)
	in := harness.NextIncoming(t, bob)
	harness.Wait(t, out, protocol.TypeCallRinging)
	sessionID := alice.SessionID()
	alice.DropConnection()
	waitDetached(t, s, sessionID)
	answer(t, in)
	harness.Wait(t, in, protocol.TypeCallAnswered)
	require.NoError(t, in.Hold())
	harness.Wait(t, in, protocol.TypeCallHeld)

	require.NoError(t, alice.ReconnectWithoutSession(harness.Ctx(t, 10*time.Second)))
	require.True(t, alice.Reconnected())
	harness.Wait(t, out, protocol.TypeCallAnswered)
	require.Equal(t, protocol.HeldRemote, heldBy(t, harness.Wait(t, out, protocol.TypeCallHeld)))
	require.NoError(t, in.Resume())
	harness.Wait(t, out, protocol.TypeCallResumed)
	out.Detector().Reset()
	harness.HearsTone(t, out, 1000)
	harness.HearsTone(t, in, 440)
	noErrors(t, alice, out)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, in, protocol.EndHangup)
}

// TestDropInResumeAmbiguous: two detached sessions of the user hold calls;
// an authenticate without session_id cannot tell whose they are and gets a
// new session. The session_id path still resumes.
func TestDropInResumeAmbiguous(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	carol := s.Phone(t, s.Carol, 700, "")
	bob1 := s.Phone(t, s.Bob, 1000, "")
	bob2 := s.Phone(t, s.Bob, 1000, "")
	take(t, alice, "102", bob1, bob2)
	fromCarol := take(t, carol, "102", bob2, bob1)
	sess1, sess2 := bob1.SessionID(), bob2.SessionID()
	bob1.DropConnection()
	bob2.DropConnection()
	waitDetached(t, s, sess1)
	waitDetached(t, s, sess2)

	require.NoError(t, bob1.ReconnectWithoutSession(harness.Ctx(t, 10*time.Second)))
	require.False(t, bob1.Reconnected())
	require.NotEqual(t, sess1, bob1.SessionID())
	require.NotEqual(t, sess2, bob1.SessionID())
	// The session_id path is unchanged: bob2 resumes its own.
	require.NoError(t, bob2.Reconnect(harness.Ctx(t, 10*time.Second)))
	require.True(t, bob2.Reconnected())
	require.Equal(t, sess2, bob2.SessionID())
	r := harness.Wait(t, fromCarol, protocol.TypeCallRestored).(*protocol.CallRestored)
	require.Equal(t, protocol.StateActive, r.State)
	// With one detached session holding calls left, the rule applies again:
	// a socket without session_id takes it over.
	bob3, err := softphone.Connect(harness.Ctx(t, 10*time.Second), softphone.Config{URL: s.WebSocketURL(),
		Token: s.Token(t, s.Bob, time.Hour)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = bob3.Close() })
	require.Equal(t, sess1, bob3.SessionID())
}

// take calls ext from caller and answers on the first of callees (every
// one of them rings).
func take(t *testing.T, caller *softphone.Phone, ext string, answerer, other *softphone.Phone) *softphone.Call {
	t.Helper()
	out, err := caller.Call(harness.Ctx(t, 10*time.Second), ext)
	require.NoError(t, err)
	in := harness.NextIncoming(t, answerer)
	harness.NextIncoming(t, other)
	answer(t, in)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	return in
}

// page is a ListResponse as DialStack's SDK reads it.
type page struct {
	Object          string           `json:"object"`
	URL             string           `json:"url"`
	Data            []map[string]any `json:"data"`
	HasMore         bool             `json:"has_more"`
	NextPageURL     *string          `json:"next_page_url"`
	PreviousPageURL *string          `json:"previous_page_url"`
}

// pages follows next_page_url from path as the SDK's autoPagingToArray does.
func pages(t *testing.T, s *harness.Server, path, token string) (rows []map[string]any, n int) {
	t.Helper()
	for next := &path; next != nil; n++ {
		require.Less(t, n, 50, "paging does not end")
		res := s.Do(t, "GET", *next, token, nil)
		require.Equal(t, 200, res.Status, string(res.Raw))
		var p page
		require.NoError(t, json.Unmarshal(res.Raw, &p))
		require.Equal(t, "list", p.Object)
		u, err := url.Parse(*next)
		require.NoError(t, err)
		require.Equal(t, u.Path, p.URL)
		require.Nil(t, p.PreviousPageURL)
		require.Equal(t, p.HasMore, p.NextPageURL != nil)
		rows = append(rows, p.Data...)
		next = p.NextPageURL
	}
	return rows, n
}

func TestDropInMe(t *testing.T) {
	s := harness.Start(t, nil)
	ctx := context.Background()
	aliceTok := s.Token(t, s.Alice, time.Hour)

	me := s.Do(t, "GET", "/v1/me", aliceTok, nil)
	require.Equal(t, 200, me.Status, string(me.Raw))
	require.Equal(t, map[string]any{"object": "user", "id": string(s.Alice.ID), "account": string(s.Alice.AccountID),
		"name": s.Alice.Name, "extension": s.Alice.Extension, "do_not_disturb": false}, me.Body)
	require.Equal(t, 403, s.Do(t, "GET", "/v1/me", harness.AdminKey, nil).Status)
	for _, path := range []string{"/v1/me/directory", "/v1/me/calls", "/v1/me/presence", "/v1/me/emergency-addresses"} {
		require.Equal(t, "user_token_required", s.Do(t, "GET", path, harness.AdminKey, nil).Body["code"], path)
	}
	require.Equal(t, 401, s.Do(t, "GET", "/v1/me/calls", "", nil).Status)

	// Directory: the account's users only, paged by next_page_url.
	other := store.Account{Name: "Other"}
	require.NoError(t, s.Store.CreateAccount(ctx, &other))
	erin := store.User{AccountID: other.ID, Name: "Erin", Extension: "201"}
	require.NoError(t, s.Store.CreateUser(ctx, &erin))
	for i := range 4 {
		u := store.User{AccountID: s.Alice.AccountID, Name: fmt.Sprintf("User %d", i), Extension: fmt.Sprintf("11%d", i)}
		require.NoError(t, s.Store.CreateUser(ctx, &u))
	}
	all, _, err := s.Store.ListUsers(ctx, s.Alice.AccountID, store.ListOptions{Limit: 200})
	require.NoError(t, err)
	rows, n := pages(t, s, "/v1/me/directory?limit=2", aliceTok)
	require.Equal(t, (len(all)+1)/2, n)
	require.Len(t, rows, len(all))
	for i, u := range all {
		require.Equal(t, map[string]any{"user": string(u.ID), "display_name": u.Name, "extension": u.Extension}, rows[i])
	}
	erinRows, _ := pages(t, s, "/v1/me/directory", s.Token(t, erin, time.Hour))
	require.Equal(t, []map[string]any{{"user": string(erin.ID), "display_name": "Erin", "extension": "201"}}, erinRows)
	bad := s.Do(t, "GET", "/v1/me/directory?starting_after="+string(erin.ID), aliceTok, nil)
	require.Equal(t, 400, bad.Status)
	require.Equal(t, "invalid_cursor", bad.Body["code"])
	require.Equal(t, "starting_after", bad.Body["details"].(map[string]any)["field"])
	require.Equal(t, "invalid_limit", s.Do(t, "GET", "/v1/me/directory?limit=0", aliceTok, nil).Body["code"])

	// Call history: the user's own calls, newest first, paged.
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	carol := s.Phone(t, s.Carol, 700, "")
	var ids []string
	for _, callee := range []struct {
		p   *softphone.Phone
		ext string
	}{{bob, "102"}, {carol, "103"}, {bob, "102"}} {
		out, in := harness.Connected(t, alice, callee.p, callee.ext)
		require.NoError(t, out.Hangup())
		harness.WaitEnded(t, in, protocol.EndHangup)
		ids = append([]string{out.ID}, ids...)
		// The record is closed before a device hears call.ended: the
		// history read at once shows the call over, with both legs.
		last, _ := pages(t, s, "/v1/me/calls?limit=1", s.Token(t, s.Alice, time.Hour))
		require.Equal(t, out.ID, last[0]["id"])
		require.NotNil(t, last[0]["ended_at"])
		require.Equal(t, "hangup", last[0]["end_reason"])
		require.Len(t, last[0]["legs"], 2)
	}
	rows, n = pages(t, s, "/v1/me/calls?limit=2", aliceTok)
	require.Equal(t, 2, n)
	got := make([]string, 0, len(rows))
	for _, r := range rows {
		got = append(got, r["id"].(string))
	}
	require.Equal(t, ids, got)
	carolRows, _ := pages(t, s, "/v1/me/calls", s.Token(t, s.Carol, time.Hour))
	require.Len(t, carolRows, 1)
	require.Equal(t, ids[1], carolRows[0]["id"])

	// GET /v1/calls's filters narrow the user's history, and its pages
	// keep them: alice's calls with bob, one a page.
	withBob, n := pages(t, s, "/v1/me/calls?limit=1&user="+string(s.Bob.ID), aliceTok)
	require.Equal(t, 2, n)
	require.Equal(t, []any{ids[0], ids[2]}, []any{withBob[0]["id"], withBob[1]["id"]})
	none, _ := pages(t, s, "/v1/me/calls?reason=busy&direction=internal", aliceTok)
	require.Empty(t, none)
	hungUp, _ := pages(t, s, "/v1/me/calls?reason=hangup&from="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), aliceTok)
	require.Len(t, hungUp, 3)
	for q, code := range map[string]string{"direction=sideways": "invalid_direction", "reason=bored": "invalid_reason",
		"from=yesterday": "invalid_time"} {
		bad = s.Do(t, "GET", "/v1/me/calls?"+q, aliceTok, nil)
		require.Equal(t, 400, bad.Status, q)
		require.Equal(t, code, bad.Body["code"], q)
	}
	erinCalls, _ := pages(t, s, "/v1/me/calls", s.Token(t, erin, time.Hour))
	require.Empty(t, erinCalls)
	bad = s.Do(t, "GET", "/v1/me/calls?starting_after="+ids[1], s.Token(t, erin, time.Hour), nil)
	require.Equal(t, 400, bad.Status, "another account's call is no cursor")
	require.Equal(t, "invalid_cursor", bad.Body["code"])
}
