package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// liveCalls lists GET /v1/calls?status=active as bearer sees it.
func liveCalls(t *testing.T, s *harness.Server, bearer string) []map[string]any {
	t.Helper()
	r := s.Do(t, "GET", "/v1/calls?status=active", bearer, nil)
	require.Equal(t, 200, r.Status, string(r.Raw))
	var out []map[string]any
	for _, c := range r.Body["data"].([]any) {
		out = append(out, c.(map[string]any))
	}
	return out
}

// liveLegs returns a live call's legs by role.
func liveLegs(c map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, l := range c["legs"].([]any) {
		l := l.(map[string]any)
		out[l["role"].(string)] = l
	}
	return out
}

// A connected call is listed with both legs, their devices and codecs, and
// each leg's latest quality once a 5-s window was rated; its user sees
// it, another user does not; it is gone once it ends.
func TestLiveCallsListed(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, audio.Opus)
	bob := s.Phone(t, s.Bob, 1000, audio.PCMU)
	out, in := harness.Connected(t, alice, bob, "102")
	aliceTok, carolTok := s.Token(t, s.Alice, time.Hour), s.Token(t, s.Carol, time.Hour)

	calls := liveCalls(t, s, admin)
	require.Len(t, calls, 1)
	c := calls[0]
	require.Equal(t, out.ID, c["id"])
	require.Equal(t, "active", c["status"])
	require.Equal(t, "active", c["state"])
	require.Equal(t, "internal", c["direction"])
	require.Equal(t, "101", c["from"])
	require.Equal(t, "102", c["to"])
	require.NotNil(t, c["answered_at"])
	require.NotContains(t, c, "node", "no node outside cluster mode")
	legs := liveLegs(c)
	require.Len(t, legs, 2)
	require.Equal(t, string(s.Alice.ID), legs["caller"]["user_id"])
	require.Equal(t, string(s.Bob.ID), legs["callee"]["user_id"])
	for role, l := range legs {
		require.Equal(t, "webrtc", l["kind"], role)
		require.Equal(t, "connected", l["status"], role)
		require.Regexp(t, `^sess_`, l["device"], role)
	}
	require.Equal(t, "opus", legs["caller"]["codec"])
	require.Equal(t, "pcmu", legs["callee"]["codec"])

	start := time.Now()
	harness.CheckFor(t, 15*time.Second, func() error {
		for role, l := range liveLegs(liveCalls(t, s, admin)[0]) {
			if l["quality"] == nil {
				return fmt.Errorf("%s leg has no quality yet", role)
			}
		}
		return nil
	})
	for role, l := range liveLegs(liveCalls(t, s, admin)[0]) {
		q := l["quality"].(map[string]any)
		require.Greater(t, q["mos"].(float64), 4.0, "%s: %v", role, q)
		require.Contains(t, q, "loss_pct")
		require.Contains(t, q, "jitter_ms")
		t.Logf("%s leg live quality after %v: %v", role, time.Since(start).Round(100*time.Millisecond), q)
	}

	require.Len(t, liveCalls(t, s, aliceTok), 1)
	require.Empty(t, liveCalls(t, s, carolTok), "a user sees only their own calls")
	r := s.Do(t, "GET", "/v1/calls/"+out.ID, aliceTok, nil)
	require.Equal(t, 200, r.Status, string(r.Raw))
	require.Equal(t, "active", r.Body["status"])
	require.Equal(t, "active", r.Body["live"].(map[string]any)["state"])

	require.NoError(t, in.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	harness.CheckFor(t, 5*time.Second, func() error {
		if n := len(liveCalls(t, s, admin)); n != 0 {
			return fmt.Errorf("%d live calls left", n)
		}
		return nil
	})
	rec := record(t, s, out.ID)
	require.Equal(t, "ended", rec["status"])
	require.NotContains(t, rec, "live")
}

// A supervisor's hangup ends the call on both sides with reason hangup,
// and the record notes it on each leg.
func TestSupervisorHangup(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	out, in := harness.Connected(t, alice, bob, "102")

	r := s.Do(t, "POST", "/v1/calls/"+out.ID+"/hangup", s.Token(t, s.Alice, time.Hour), nil)
	require.Equal(t, 403, r.Status, "a user token is no supervisor")
	r = s.Do(t, "POST", "/v1/calls/"+out.ID+"/hangup", admin, nil)
	require.Equal(t, 200, r.Status, string(r.Raw))
	harness.WaitEnded(t, out, protocol.EndHangup)
	harness.WaitEnded(t, in, protocol.EndHangup)

	rec := record(t, s, out.ID)
	require.Equal(t, "hangup", rec["end_reason"])
	for _, l := range rec["legs"].([]any) {
		l := l.(map[string]any)
		require.Equal(t, "supervisor", l["ended_by"], l["role"])
		require.Equal(t, "hangup", l["end_reason"], l["role"])
	}
	r = s.Do(t, "POST", "/v1/calls/"+out.ID+"/hangup", admin, nil)
	require.Equal(t, 404, r.Status, "the call has ended")
	require.Equal(t, "call_not_found", r.Body["code"])
}

// A supervisor moves the caller of a connected call to a third softphone:
// the callee leaves "transferred", the caller hears the new party.
func TestSupervisorTransfer(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	carol := s.Phone(t, s.Carol, 700, "")
	out, in := harness.Connected(t, alice, bob, "102")
	harness.HearsTone(t, out, 1000)

	r := s.Do(t, "POST", "/v1/calls/"+out.ID+"/transfer", admin, map[string]any{"to": "103", "party": "caller"})
	require.Equal(t, 202, r.Status, string(r.Raw))
	harness.WaitEnded(t, in, protocol.EndTransferred)
	toCarol := harness.NextIncoming(t, carol)
	require.Equal(t, "101", toCarol.From)
	c := liveCalls(t, s, admin)[0]
	require.Equal(t, true, c["transferring"])
	answer(t, toCarol)
	harness.Wait(t, toCarol, protocol.TypeCallAnswered)
	out.Detector().Reset()
	harness.HearsTone(t, out, 700)
	harness.HearsTone(t, toCarol, 440)
	legs := liveLegs(liveCalls(t, s, admin)[0])
	require.Equal(t, string(s.Carol.ID), legs["callee"]["user_id"])
	require.Len(t, liveCalls(t, s, s.Token(t, s.Carol, time.Hour)), 1, "carol sees the call she is on")

	require.NoError(t, toCarol.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	rec := record(t, s, out.ID)
	require.Contains(t, rec["transfer"], "blind transfer by supervisor of "+string(s.Alice.ID)+" to 103")
	ends := legEndReasons(rec)
	require.Equal(t, "transferred", ends[string(s.Bob.ID)])
	for _, l := range rec["legs"].([]any) {
		l := l.(map[string]any)
		if l["user_id"] == string(s.Bob.ID) {
			require.Equal(t, "supervisor", l["ended_by"])
		} else {
			require.NotContains(t, l, "ended_by")
		}
	}
}

// Bad bodies, unknown ids and calls that cannot be transferred get the
// documented errors, and leave the call alone.
func TestSupervisorErrors(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	carol := s.Phone(t, s.Carol, 700, "")
	out := dial(t, alice, "103")
	ringing := harness.NextIncoming(t, carol)
	path := "/v1/calls/" + out.ID + "/transfer"
	for _, tt := range []struct {
		name, path string
		body       any
		status     int
		code       string
		field      string
	}{
		{"ringing", path, map[string]any{"to": "102"}, 409, "call_state", ""},
		{"unknown call", "/v1/calls/call_nope/transfer", map[string]any{"to": "102"}, 404, "call_not_found", ""},
		{"unknown call hangup", "/v1/calls/call_nope/hangup", nil, 404, "call_not_found", ""},
		{"not json", path, "to=102", 400, "invalid_json", ""},
		{"unknown field", path, `{"to":"102","how":"blind"}`, 400, "invalid_json", ""},
		{"no to", path, map[string]any{"party": "caller"}, 400, "missing_field", "to"},
		{"bad party", path, map[string]any{"to": "102", "party": "everyone"}, 400, "invalid_party", "party"},
		{"leg and party", path, map[string]any{"to": "102", "party": "caller", "leg_id": "leg_x"}, 400, "invalid_request", "party"},
		{"hangup with a body", "/v1/calls/" + out.ID + "/hangup", `{"now":true}`, 400, "invalid_json", ""},
	} {
		r := s.Do(t, "POST", tt.path, admin, tt.body)
		require.Equal(t, tt.status, r.Status, "%s: %s", tt.name, r.Raw)
		require.Equal(t, tt.code, r.Body["code"], tt.name)
		if tt.field != "" {
			require.Equal(t, map[string]any{"field": tt.field}, r.Body["details"], tt.name)
		}
	}
	answer(t, ringing)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	for _, tt := range []struct {
		name         string
		body         any
		code, field  string
		wantedStatus int
	}{
		{"unknown leg", map[string]any{"to": "102", "leg_id": "leg_nope"}, "invalid_leg", "leg_id", 422},
		{"no such extension", map[string]any{"to": "199"}, "unroutable_destination", "to", 422},
		{"feature code", map[string]any{"to": "*43"}, "unroutable_destination", "to", 422},
	} {
		r := s.Do(t, "POST", path, admin, tt.body)
		require.Equal(t, tt.wantedStatus, r.Status, "%s: %s", tt.name, r.Raw)
		require.Equal(t, tt.code, r.Body["code"], tt.name)
		require.Equal(t, map[string]any{"field": tt.field}, r.Body["details"], tt.name)
	}
	r := s.Do(t, "GET", "/v1/calls?status=live", admin, nil)
	require.Equal(t, 400, r.Status)
	require.Equal(t, "invalid_status", r.Body["code"])
	require.Equal(t, map[string]any{"field": "status"}, r.Body["details"])

	ringing.Detector().Reset()
	harness.HearsTone(t, ringing, 440) // the call went on
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, ringing, protocol.EndHangup)
}
