package api

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/test/rest"
)

// fakeLive is the call core's live state as the API sees it.
type fakeLive struct {
	calls []call.LiveCall
	got   []call.Command
	err   error
}

func (f *fakeLive) Live(context.Context) []call.LiveCall { return f.calls }

func (f *fakeLive) LiveCall(_ context.Context, id ident.CallID) (call.LiveCall, bool) {
	for _, c := range f.calls {
		if c.ID == id {
			return c, true
		}
	}
	return call.LiveCall{}, false
}

func (f *fakeLive) Supervise(_ context.Context, id ident.CallID, cmd call.Command) error {
	f.got = append(f.got, cmd)
	if _, ok := f.LiveCall(context.Background(), id); !ok {
		return fmt.Errorf("%w: %s", call.ErrNoCall, id)
	}
	return f.err
}

func TestListLiveCalls(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	live := &fakeLive{}
	ta := newTestAPI(t, func(a *API) { a.Live, a.NodeID, a.now = live, "n1", func() time.Time { return now } })
	ctx := context.Background()
	alice := store.User{AccountID: ta.DefaultAccount, Name: "Alice", Extension: "101"}
	require.NoError(t, ta.Store.CreateUser(ctx, &alice))
	tok, _, err := ta.Tokens.Mint(&alice, time.Hour)
	require.NoError(t, err)
	mos := &store.QualitySample{At: now, MOS: 4.4, LossPct: 0, JitterMs: 1.5}
	live.calls = []call.LiveCall{
		{ID: "call_1", Account: ta.DefaultAccount, State: call.StateActive, Direction: "internal", FromUser: alice.ID,
			From: "101", To: "102", StartedAt: now.Add(-time.Minute), AnsweredAt: now.Add(-42 * time.Second),
			Legs: []call.LiveLeg{{ID: "leg_1", Role: "caller", Kind: "webrtc", Device: "sess_1", User: alice.ID,
				Status: "connected", Codec: "opus", Quality: mos}}},
		{ID: "call_2", Account: ta.DefaultAccount, State: call.StateRinging, Direction: "inbound", From: "+12125550100",
			To: "103", StartedAt: now.Add(-time.Second)},
		{ID: "call_3", Account: "acct_other", State: call.StateHeld, StartedAt: now},
	}

	body := ta.must(t, 200, "GET", "/v1/calls?status=active", nil)
	data := body["data"].([]any)
	require.Len(t, data, 3)
	require.Equal(t, "call_3", data[0].(map[string]any)["id"], "newest first")
	c1 := data[2].(map[string]any)
	require.Equal(t, "active", c1["status"])
	require.Equal(t, "active", c1["state"])
	require.Equal(t, "n1", c1["node"])
	require.Equal(t, 42.0, c1["duration_s"])
	require.Equal(t, "2025-01-02T03:03:23Z", c1["answered_at"])
	leg := c1["legs"].([]any)[0].(map[string]any)
	require.Equal(t, "opus", leg["codec"])
	require.Equal(t, "sess_1", leg["device"])
	require.Equal(t, 4.4, leg["quality"].(map[string]any)["mos"])
	c2 := data[1].(map[string]any)
	require.Nil(t, c2["answered_at"])
	require.Nil(t, c2["duration_s"])
	require.Equal(t, []any{}, c2["legs"])

	data = ta.must(t, 200, "GET", "/v1/calls?status=active&account_id="+string(ta.DefaultAccount), nil)["data"].([]any)
	require.Len(t, data, 2)
	body = ta.must(t, 200, "GET", "/v1/calls?status=active&limit=1", nil)
	require.Len(t, body["data"], 1)
	require.Equal(t, true, body["has_more"])

	r := rest.Do(t, "GET", ta.srv.URL+"/v1/calls?status=active", tok, nil)
	require.Equal(t, 200, r.Status, string(r.Raw))
	data = r.Body["data"].([]any)
	require.Len(t, data, 1, "a user sees only the calls they are part of")
	require.Equal(t, "call_1", data[0].(map[string]any)["id"])

	require.Equal(t, 401, rest.Do(t, "GET", ta.srv.URL+"/v1/calls?status=active", "", nil).Status)
	runBad(t, ta, []badRequest{
		{"unknown status", "GET", "/v1/calls?status=ringing", nil, 400, "invalid_status"},
		{"paging", "GET", "/v1/calls?status=active&starting_after=call_1", nil, 400, "invalid_request"},
	})
	r = ta.do(t, "GET", "/v1/calls?status=done", nil)
	require.Equal(t, map[string]any{"field": "status"}, r.Body["details"])
}

// GET /v1/calls/{id} carries the live view while the record is open.
func TestGetCallWithLiveView(t *testing.T) {
	live := &fakeLive{}
	ta := newTestAPI(t, func(a *API) { a.Live = live })
	ctx := context.Background()
	rec := store.CallRecord{ID: "call_live", AccountID: ta.DefaultAccount, Direction: "internal", StartedAt: time.Now()}
	require.NoError(t, ta.Store.CreateCallRecord(ctx, &rec))
	body := ta.must(t, 200, "GET", "/v1/calls/call_live", nil)
	require.Equal(t, "active", body["status"])
	require.Nil(t, body["live"], "not live on this node")

	live.calls = []call.LiveCall{{ID: "call_live", Account: ta.DefaultAccount, State: call.StateActive, StartedAt: rec.StartedAt}}
	body = ta.must(t, 200, "GET", "/v1/calls/call_live", nil)
	require.Equal(t, "active", body["live"].(map[string]any)["state"])

	end := time.Now()
	rec.EndedAt, rec.EndReason = &end, "hangup"
	require.NoError(t, ta.Store.UpdateCallRecord(ctx, &rec))
	body = ta.must(t, 200, "GET", "/v1/calls/call_live", nil)
	require.Equal(t, "ended", body["status"])
	require.Nil(t, body["live"])
}

func TestSuperviseEndpoints(t *testing.T) {
	live := &fakeLive{calls: []call.LiveCall{{ID: "call_1"}}}
	ta := newTestAPI(t, func(a *API) { a.Live = live })
	ctx := context.Background()
	alice := store.User{AccountID: ta.DefaultAccount, Name: "Alice", Extension: "101"}
	require.NoError(t, ta.Store.CreateUser(ctx, &alice))
	tok, _, err := ta.Tokens.Mint(&alice, time.Hour)
	require.NoError(t, err)

	body := ta.must(t, 200, "POST", "/v1/calls/call_1/hangup", nil)
	require.Equal(t, "supervisor", body["ended_by"])
	ta.must(t, 200, "POST", "/v1/calls/call_1/hangup", "{}")
	body = ta.must(t, 202, "POST", "/v1/calls/call_1/transfer", map[string]any{"to": " 104 ", "party": "callee"})
	require.Equal(t, "104", body["to"])
	ta.must(t, 202, "POST", "/v1/calls/call_1/transfer", map[string]any{"to": "104", "leg_id": "leg_x"})
	require.Equal(t, []call.Command{call.SuperviseHangup{}, call.SuperviseHangup{},
		call.SuperviseTransfer{To: "104", Party: "callee"}, call.SuperviseTransfer{To: "104", Leg: "leg_x"}}, live.got)

	r := rest.Do(t, "POST", ta.srv.URL+"/v1/calls/call_1/hangup", tok, nil)
	require.Equal(t, http.StatusForbidden, r.Status, "supervisor actions need the admin key")
	require.Equal(t, 405, ta.do(t, "GET", "/v1/calls/call_1/hangup", nil).Status)

	runBad(t, ta, []badRequest{
		{"unknown call", "POST", "/v1/calls/call_nope/hangup", nil, 404, "call_not_found"},
		{"unknown call transfer", "POST", "/v1/calls/call_nope/transfer", map[string]any{"to": "104"}, 404, "call_not_found"},
		{"hangup body", "POST", "/v1/calls/call_1/hangup", `{"reason":"x"}`, 400, "invalid_json"},
		{"no body", "POST", "/v1/calls/call_1/transfer", nil, 400, "invalid_json"},
		{"not json", "POST", "/v1/calls/call_1/transfer", "to=104", 400, "invalid_json"},
		{"unknown field", "POST", "/v1/calls/call_1/transfer", `{"to":"104","mode":"x"}`, 400, "invalid_json"},
		{"no to", "POST", "/v1/calls/call_1/transfer", `{"party":"caller"}`, 400, "missing_field"},
		{"blank to", "POST", "/v1/calls/call_1/transfer", `{"to":"  "}`, 400, "missing_field"},
		{"to not a string", "POST", "/v1/calls/call_1/transfer", `{"to":104}`, 400, "invalid_json"},
		{"to two lines", "POST", "/v1/calls/call_1/transfer", `{"to":"10\r\n4"}`, 400, "invalid_destination"},
		{"bad party", "POST", "/v1/calls/call_1/transfer", `{"to":"104","party":"both"}`, 400, "invalid_party"},
		{"leg and party", "POST", "/v1/calls/call_1/transfer", `{"to":"104","party":"caller","leg_id":"leg_1"}`, 400, "invalid_request"},
	})
	r = ta.do(t, "POST", "/v1/calls/call_1/transfer", `{"party":"caller"}`)
	require.Equal(t, map[string]any{"field": "to"}, r.Body["details"])

	for _, tt := range []struct {
		err    error
		status int
		code   string
		field  string
	}{
		{call.ErrCallState, 409, "call_state", ""},
		{call.ErrNoLeg, 422, "invalid_leg", "party"},
		{call.ErrDestination, 422, "unroutable_destination", "to"},
		{context.DeadlineExceeded, 503, "call_unresponsive", ""},
	} {
		live.err = fmt.Errorf("wrapped: %w", tt.err)
		r := ta.do(t, "POST", "/v1/calls/call_1/transfer", map[string]any{"to": "104"})
		require.Equal(t, tt.status, r.Status, string(r.Raw))
		require.Equal(t, tt.code, r.Body["code"])
		if tt.field != "" {
			require.Equal(t, map[string]any{"field": tt.field}, r.Body["details"])
		}
	}
	live.err = call.ErrNoLeg
	r = ta.do(t, "POST", "/v1/calls/call_1/transfer", map[string]any{"to": "104", "leg_id": "leg_9"})
	require.Equal(t, map[string]any{"field": "leg_id"}, r.Body["details"])
}
