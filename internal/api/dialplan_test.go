package api

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/store"
)

func TestDialPlanREST(t *testing.T) {
	ta := newTestAPI(t, func(a *API) { a.ConfigTrunks = []string{"from-config"} })
	ctx := context.Background()
	require.NoError(t, ta.Store.CreateTrunk(ctx, &store.Trunk{Name: "Carrier", Host: "192.0.2.1"}))

	p := ta.must(t, 200, "GET", "/v1/dial_plan", nil)
	require.Equal(t, map[string]any{"object": "dial_plan", "account_id": string(ta.DefaultAccount),
		"extension_length": 0.0, "country": "US", "emergency_numbers": []any{"911", "112"}, "emergency_trunk": "",
		"international_allow": []any{}, "max_outbound_calls": 0.0, "emergency_address_required": false, "updated_at": nil}, p)

	p = ta.must(t, 200, "PUT", "/v1/dial_plan", map[string]any{"extension_length": 3, "country": "gb",
		"emergency_numbers": []string{"999", "112", "999"}, "emergency_trunk": "carrier",
		"international_allow": []string{"+33", "+49"}, "max_outbound_calls": 4})
	require.Equal(t, "GB", p["country"], "the country is upper-cased")
	require.Equal(t, []any{"999", "112"}, p["emergency_numbers"], "repeats are dropped")
	require.Equal(t, "Carrier", p["emergency_trunk"], "the trunk is spelled as stored")
	require.NotNil(t, p["updated_at"])
	got := ta.must(t, 200, "GET", "/v1/dial_plan", nil)
	require.Equal(t, p, got)

	// Absent fields keep their values.
	p = ta.must(t, 200, "PUT", "/v1/dial_plan", map[string]any{"emergency_address_required": true})
	require.Equal(t, true, p["emergency_address_required"])
	require.Equal(t, "GB", p["country"])
	p = ta.must(t, 200, "PUT", "/v1/dial_plan", map[string]any{"max_outbound_calls": 0, "emergency_trunk": "FROM-CONFIG"})
	require.Equal(t, true, p["emergency_address_required"])
	require.EqualValues(t, 3, p["extension_length"])
	require.EqualValues(t, 0, p["max_outbound_calls"])
	require.Equal(t, "from-config", p["emergency_trunk"])
	// A plan whose trunk went away can still be edited.
	c := store.Trunk{Name: "gone", Host: "192.0.2.2"}
	require.NoError(t, ta.Store.CreateTrunk(ctx, &c))
	ta.must(t, 200, "PUT", "/v1/dial_plan", map[string]any{"emergency_trunk": "gone"})
	require.NoError(t, ta.Store.DeleteTrunk(ctx, c.ID))
	p = ta.must(t, 200, "PUT", "/v1/dial_plan", map[string]any{"max_outbound_calls": 1})
	require.Equal(t, "gone", p["emergency_trunk"])
	p = ta.must(t, 200, "PUT", "/v1/dial_plan", map[string]any{"country": "", "international_allow": []string{"+"}})
	require.Equal(t, "", p["country"])
	require.Equal(t, []any{"+"}, p["international_allow"])

	// Another account, by ?account=.
	other := store.Account{Name: "Other"}
	require.NoError(t, ta.Store.CreateAccount(ctx, &other))
	p = ta.must(t, 200, "PUT", "/v1/dial_plan?account="+string(other.ID), map[string]any{"country": "FR"})
	require.Equal(t, string(other.ID), p["account_id"])
	require.Equal(t, "FR", p["country"])
	require.Equal(t, "", ta.must(t, 200, "GET", "/v1/dial_plan", nil)["country"], "the default account is untouched")

	long := make([]string, 11)
	for i := range long {
		long[i] = "1" + string(rune('0'+i%10)) + string(rune('0'+i/10))
	}
	runBad(t, ta, []badRequest{
		{"extension length 1", "PUT", "/v1/dial_plan", map[string]any{"extension_length": 1}, 400, "invalid_extension_length"},
		{"extension length 9", "PUT", "/v1/dial_plan", map[string]any{"extension_length": 9}, 400, "invalid_extension_length"},
		{"unknown country", "PUT", "/v1/dial_plan", map[string]any{"country": "XX"}, 400, "invalid_country"},
		{"emergency letters", "PUT", "/v1/dial_plan", map[string]any{"emergency_numbers": []string{"91a"}}, 400, "invalid_emergency_number"},
		{"emergency too short", "PUT", "/v1/dial_plan", map[string]any{"emergency_numbers": []string{"9"}}, 400, "invalid_emergency_number"},
		{"emergency too long", "PUT", "/v1/dial_plan", map[string]any{"emergency_numbers": []string{"1234567"}}, 400, "invalid_emergency_number"},
		{"too many emergency", "PUT", "/v1/dial_plan", map[string]any{"emergency_numbers": long}, 400, "invalid_emergency_numbers"},
		{"unknown trunk", "PUT", "/v1/dial_plan", map[string]any{"emergency_trunk": "nope"}, 400, "unknown_trunk"},
		{"prefix without plus", "PUT", "/v1/dial_plan", map[string]any{"international_allow": []string{"44"}}, 400, "invalid_international_prefix"},
		{"prefix too long", "PUT", "/v1/dial_plan", map[string]any{"international_allow": []string{"+1234567"}}, 400, "invalid_international_prefix"},
		{"negative cap", "PUT", "/v1/dial_plan", map[string]any{"max_outbound_calls": -1}, 400, "invalid_max_outbound_calls"},
		{"unknown field", "PUT", "/v1/dial_plan", map[string]any{"countries": "US"}, 400, "invalid_json"},
		{"unknown account", "GET", "/v1/dial_plan?account=acct_missing", nil, 404, "account_not_found"},
		{"post", "POST", "/v1/dial_plan", map[string]any{}, 405, "method_not_allowed"},
	})
	r := ta.do(t, "PUT", "/v1/dial_plan", map[string]any{"country": "XX"})
	require.Equal(t, map[string]any{"field": "country"}, r.Body["details"])

	// Extension lengths: the plan and the extensions must agree.
	ta.must(t, 200, "PUT", "/v1/dial_plan", map[string]any{"extension_length": 0})
	ta.user(t, "Alice", "101")
	ta.user(t, "Bob", "1002")
	r = ta.do(t, "PUT", "/v1/dial_plan", map[string]any{"extension_length": 3})
	require.Equal(t, 400, r.Status, string(r.Raw))
	require.Equal(t, "extension_length_mismatch", r.Body["code"])
	require.Contains(t, r.Body["error"], "1002")
	alice := ta.must(t, 200, "GET", "/v1/users?limit=1", nil)["data"].([]any)[0].(map[string]any)["id"].(string)
	ta.must(t, 200, "PATCH", "/v1/users/"+alice, map[string]any{"extension": "1001"})
	ta.must(t, 200, "PUT", "/v1/dial_plan", map[string]any{"extension_length": 4})
	runBad(t, ta, []badRequest{
		{"user extension too short", "POST", "/v1/users", map[string]any{"name": "C", "extension": "103"}, 400, "invalid_extension"},
		{"user update too short", "PATCH", "/v1/users/" + alice, map[string]any{"extension": "101"}, 400, "invalid_extension"},
		{"group extension too short", "POST", "/v1/ring_groups", map[string]any{"name": "G", "extension": "200",
			"members": []string{alice}}, 400, "invalid_extension"},
	})
	ta.must(t, 201, "POST", "/v1/users", map[string]any{"name": "C", "extension": "1003"})
}
