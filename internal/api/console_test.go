package api

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/test/rest"
)

type fakeDevices map[ident.UserID][]Device

func (f fakeDevices) UserDevices(_ context.Context, u ident.UserID) []Device { return f[u] }

func TestUserDevices(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	devs := fakeDevices{}
	ta := newTestAPI(t, func(a *API) { a.Devices = devs })
	ctx := context.Background()
	alice := ta.user(t, "Alice", "101")
	bob := ta.user(t, "Bob", "102")
	devs[ident.UserID(alice)] = []Device{
		{Kind: DeviceWebRTC, UserAgent: "Mozilla/5.0", Source: "127.0.0.1", SessionID: "sess_1", ConnectedAt: at, Connected: true},
		{Kind: DeviceWebRTC, UserAgent: "Mozilla/5.0", Source: "127.0.0.1", SessionID: "sess_2", ConnectedAt: at},
		{Kind: DeviceSIP, UserAgent: "baresip v3", Source: "127.0.0.1:5062", Contact: "sip:101@127.0.0.1:5062",
			Transport: "udp", ExpiresAt: at.Add(time.Hour)},
	}
	body := ta.must(t, 200, "GET", "/v1/users/"+alice+"/devices", nil)
	require.Equal(t, "list", body["object"])
	require.Equal(t, false, body["has_more"])
	require.Equal(t, []any{
		map[string]any{"object": "device", "kind": "webrtc", "user_agent": "Mozilla/5.0", "source": "127.0.0.1", "node_id": nil,
			"session_id": "sess_1", "state": "connected", "connected_at": "2026-03-04T05:06:07Z"},
		map[string]any{"object": "device", "kind": "webrtc", "user_agent": "Mozilla/5.0", "source": "127.0.0.1", "node_id": nil,
			"session_id": "sess_2", "state": "detached", "connected_at": "2026-03-04T05:06:07Z"},
		map[string]any{"object": "device", "kind": "sip", "user_agent": "baresip v3", "source": "127.0.0.1:5062", "node_id": nil,
			"contact": "sip:101@127.0.0.1:5062", "transport": "udp", "expires_at": "2026-03-04T06:06:07Z"},
	}, body["data"])
	require.Equal(t, []any{}, ta.must(t, 200, "GET", "/v1/users/"+bob+"/devices", nil)["data"])
	runBad(t, ta, []badRequest{
		{"no user", "GET", "/v1/users/user_nope/devices", nil, 404, "user_not_found"},
		{"post", "POST", "/v1/users/" + alice + "/devices", nil, 405, "method_not_allowed"},
	})

	// An account admin's token sees its account's users, not another's.
	other := store.Account{Name: "Other"}
	require.NoError(t, ta.Store.CreateAccount(ctx, &other))
	carol := ta.must(t, 201, "POST", "/v1/users", map[string]any{"name": "Carol", "extension": "201", "account_id": other.ID})["id"].(string)
	boss := ta.must(t, 201, "POST", "/v1/users", map[string]any{"name": "Boss", "extension": "100", "role": "admin"})["id"].(string)
	tok := ta.token(t, boss)
	r := rest.Do(t, "GET", ta.srv.URL+"/v1/users/"+alice+"/devices", tok, nil)
	require.Equal(t, 200, r.Status, string(r.Raw))
	require.Len(t, r.Body["data"], 3)
	r = rest.Do(t, "GET", ta.srv.URL+"/v1/users/"+carol+"/devices", tok, nil)
	require.Equal(t, 404, r.Status, string(r.Raw))
	r = rest.Do(t, "GET", ta.srv.URL+"/v1/users/"+alice+"/devices", ta.token(t, alice), nil)
	require.Equal(t, 403, r.Status, "a plain user's token: %s", r.Raw)
}

func TestSystem(t *testing.T) {
	started := time.Now().Add(-90 * time.Second)
	ta := newTestAPI(t, func(a *API) {
		a.System = func(context.Context) System {
			return System{Version: "v1.2.3", StartedAt: started, Store: "sqlite", LiveCalls: 2, Sockets: 3, Registrations: 1,
				Problems: []ConfigProblem{{Code: "demo_mode", Field: "demo", Message: "demo mode is on"}}}
		}
	})
	body := ta.must(t, 200, "GET", "/v1/system", nil)
	require.Equal(t, "system", body["object"])
	require.Equal(t, "v1.2.3", body["version"])
	require.Nil(t, body["node_id"])
	require.Equal(t, false, body["cluster"])
	require.Equal(t, "sqlite", body["store"])
	require.Equal(t, started.UTC().Format(time.RFC3339), body["started_at"])
	require.InDelta(t, 90, body["uptime_s"], 5)
	require.Equal(t, map[string]any{"live_calls": 2.0, "sockets": 3.0, "registrations": 1.0}, body["counts"])
	require.Equal(t, []any{map[string]any{"code": "demo_mode", "field": "demo", "message": "demo mode is on"}}, body["config_problems"])

	boss := ta.must(t, 201, "POST", "/v1/users", map[string]any{"name": "Boss", "extension": "100", "role": "admin"})["id"].(string)
	r := rest.Do(t, "GET", ta.srv.URL+"/v1/system", ta.token(t, boss), nil)
	require.Equal(t, 403, r.Status, string(r.Raw))
	require.Equal(t, "admin_key_required", r.Body["code"])
	r = rest.Do(t, "GET", ta.srv.URL+"/v1/system", "", nil)
	require.Equal(t, 401, r.Status, string(r.Raw))
}

func TestCallHistoryFilters(t *testing.T) {
	ta := newTestAPI(t, nil)
	ctx := context.Background()
	alice, bob := ta.user(t, "Alice", "101"), ta.user(t, "Bob", "102")
	day := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	mk := func(from, to, dir, reason string, started time.Time) string {
		r := &store.CallRecord{AccountID: ta.DefaultAccount, Direction: dir, FromUserID: ident.UserID(from),
			ToUserID: ident.UserID(to), From: "x", To: "y", StartedAt: started}
		require.NoError(t, ta.Store.CreateCallRecord(ctx, r))
		end := started.Add(time.Minute)
		r.EndedAt, r.EndReason = &end, reason
		require.NoError(t, ta.Store.UpdateCallRecord(ctx, r))
		return string(r.ID)
	}
	c0 := mk(alice, bob, "internal", "hangup", day)
	c1 := mk(bob, "", "outbound", "busy", day.Add(time.Hour))
	c2 := mk("", alice, "inbound", "no-answer", day.Add(24*time.Hour))
	ids := func(path string) []string {
		t.Helper()
		out := []string{}
		for _, c := range ta.must(t, 200, "GET", path, nil)["data"].([]any) {
			out = append(out, c.(map[string]any)["id"].(string))
		}
		return out
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{c2, c1, c0}},
		{"?user=" + alice, []string{c2, c0}},
		{"?user=" + bob + "&direction=outbound", []string{c1}},
		{"?reason=hangup", []string{c0}},
		{"?from=2026-05-01T10:30:00Z", []string{c2, c1}},
		{"?from=2026-05-01T00:00:00%2B02:00&to=2026-05-02T00:00:00Z", []string{c1, c0}},
		{"?user=" + alice + "&limit=1", []string{c2}},
		{"?user=" + alice + "&starting_after=" + c2, []string{c0}},
		{"?direction=inbound&reason=hangup", []string{}},
	} {
		require.Equal(t, tc.want, ids("/v1/calls"+tc.query), tc.query)
	}
	for _, tc := range []struct{ query, code, field string }{
		{"?direction=sideways", "invalid_direction", "direction"},
		{"?reason=bored", "invalid_reason", "reason"},
		{"?from=yesterday", "invalid_time", "from"},
		{"?to=2026-05-01", "invalid_time", "to"},
		{"?from=2026-05-02T00:00:00Z&to=2026-05-01T00:00:00Z", "invalid_range", "to"},
	} {
		r := ta.do(t, "GET", "/v1/calls"+tc.query, nil)
		require.Equal(t, 400, r.Status, string(r.Raw))
		require.Equal(t, tc.code, r.Body["code"], tc.query)
		require.Equal(t, map[string]any{"field": tc.field}, r.Body["details"], tc.query)
	}
}
