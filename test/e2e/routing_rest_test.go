package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// restCase is one admin request that must fail with status and code.
type restCase struct {
	method, path string
	body         any
	status       int
	code         string
}

func checkRESTErrors(t *testing.T, s *harness.Server, cases []restCase) {
	t.Helper()
	for _, tc := range cases {
		r := s.Do(t, tc.method, tc.path, admin, tc.body)
		require.Equal(t, tc.status, r.Status, "%s %s %v: %s", tc.method, tc.path, tc.body, r.Raw)
		require.Equal(t, tc.code, r.Body["code"], "%s %s %v: %s", tc.method, tc.path, tc.body, r.Raw)
		require.NotEmpty(t, r.Body["error"], string(r.Raw))
	}
}

// ok sends an admin request that must succeed with status.
func ok(t *testing.T, s *harness.Server, status int, method, path string, body any) map[string]any {
	t.Helper()
	r := s.Do(t, method, path, admin, body)
	require.Equal(t, status, r.Status, "%s %s: %s", method, path, r.Raw)
	return r.Body
}

func TestRoutingREST(t *testing.T) {
	s := harness.Start(t, func(c *config.Config) {
		c.Trunks = []config.Trunk{{Name: "from-config", Host: "192.0.2.10", Prefixes: []string{"+1"}}}
	})
	alice, bob, carol := string(s.Alice.ID), string(s.Bob.ID), string(s.Carol.ID)

	// Admin only.
	for _, path := range []string{"/v1/dial_plan", "/v1/ring_groups", "/v1/users/" + alice + "/follow_me"} {
		require.Equal(t, 401, s.Do(t, "GET", path, "", nil).Status, path)
		r := s.Do(t, "GET", path, s.Token(t, s.Alice, time.Minute), nil)
		require.Equal(t, 403, r.Status, path)
		require.Equal(t, "admin_key_required", r.Body["code"])
	}
	r := s.Do(t, "POST", "/v1/route_test", s.Token(t, s.Alice, time.Minute), map[string]any{"from": "101", "destination": "102"})
	require.Equal(t, 403, r.Status)

	t.Run("dial plan", func(t *testing.T) {
		p := ok(t, s, 200, "GET", "/v1/dial_plan", nil)
		require.Equal(t, "US", p["country"])
		require.Equal(t, []any{"911", "112"}, p["emergency_numbers"])
		require.Nil(t, p["updated_at"])
		p = ok(t, s, 200, "PUT", "/v1/dial_plan", map[string]any{"extension_length": 3, "country": "us",
			"emergency_numbers": []string{"911"}, "emergency_trunk": "FROM-CONFIG", "international_allow": []string{"+44"},
			"max_outbound_calls": 5})
		require.Equal(t, "US", p["country"])
		require.Equal(t, "from-config", p["emergency_trunk"])
		require.Equal(t, p, ok(t, s, 200, "GET", "/v1/dial_plan", nil))
		checkRESTErrors(t, s, []restCase{
			{"PUT", "/v1/dial_plan", map[string]any{"extension_length": 1}, 400, "invalid_extension_length"},
			{"PUT", "/v1/dial_plan", map[string]any{"extension_length": 4}, 400, "extension_length_mismatch"},
			{"PUT", "/v1/dial_plan", map[string]any{"country": "ZZ"}, 400, "invalid_country"},
			{"PUT", "/v1/dial_plan", map[string]any{"emergency_numbers": []string{"9-1-1"}}, 400, "invalid_emergency_number"},
			{"PUT", "/v1/dial_plan", map[string]any{"emergency_trunk": "nowhere"}, 400, "unknown_trunk"},
			{"PUT", "/v1/dial_plan", map[string]any{"international_allow": []string{"+44x"}}, 400, "invalid_international_prefix"},
			{"PUT", "/v1/dial_plan", map[string]any{"max_outbound_calls": -2}, 400, "invalid_max_outbound_calls"},
			{"PUT", "/v1/dial_plan", `{"country":`, 400, "invalid_json"},
			{"GET", "/v1/dial_plan?account=acct_nope", nil, 404, "account_not_found"},
			{"DELETE", "/v1/dial_plan", nil, 405, "method_not_allowed"},
		})
		// Back to the default rules for the rest of the test.
		ok(t, s, 200, "PUT", "/v1/dial_plan", map[string]any{"extension_length": 0, "emergency_numbers": []string{"911", "112"},
			"emergency_trunk": "", "max_outbound_calls": 0})
	})

	var group string
	t.Run("ring groups", func(t *testing.T) {
		g := ok(t, s, 201, "POST", "/v1/ring_groups", map[string]any{"name": "Sales", "extension": "200",
			"members": []string{alice, bob}, "ring_seconds": 20, "next": "103"})
		group = g["id"].(string)
		require.True(t, strings.HasPrefix(group, "rg_"), group)
		require.Equal(t, []any{alice, bob}, g["members"])
		require.Equal(t, g, ok(t, s, 200, "GET", "/v1/ring_groups/"+group, nil))
		list := ok(t, s, 200, "GET", "/v1/ring_groups", nil)
		require.Len(t, list["data"], 1)
		require.Equal(t, false, list["has_more"])
		g = ok(t, s, 200, "PATCH", "/v1/ring_groups/"+group, map[string]any{"members": []string{alice, bob, carol}})
		require.Len(t, g["members"], 3)
		require.EqualValues(t, 20, g["ring_seconds"])
		checkRESTErrors(t, s, []restCase{
			{"POST", "/v1/ring_groups", map[string]any{"members": []string{alice}}, 400, "missing_field"},
			{"POST", "/v1/ring_groups", map[string]any{"name": "X", "members": []string{}}, 400, "invalid_members"},
			{"POST", "/v1/ring_groups", map[string]any{"name": "X", "members": []string{"user_nobody"}}, 400, "unknown_user"},
			{"POST", "/v1/ring_groups", map[string]any{"name": "X", "members": []string{alice}, "ring_seconds": 400}, 400, "invalid_ring_seconds"},
			{"POST", "/v1/ring_groups", map[string]any{"name": "X", "members": []string{alice}, "next": "a@b"}, 400, "invalid_next"},
			{"POST", "/v1/ring_groups", map[string]any{"name": "X", "members": []string{alice}, "extension": "1x"}, 400, "invalid_extension"},
			{"POST", "/v1/ring_groups", map[string]any{"name": "X", "members": []string{alice}, "extension": "101"}, 409, "extension_taken"},
			{"POST", "/v1/ring_groups", map[string]any{"name": "X", "members": []string{alice}, "extension": "200"}, 409, "extension_taken"},
			{"POST", "/v1/users", map[string]any{"name": "X", "extension": "200"}, 409, "extension_taken"},
			{"PATCH", "/v1/ring_groups/" + group, map[string]any{"extension": "102"}, 409, "extension_taken"},
			{"PATCH", "/v1/ring_groups/rg_nope", map[string]any{"name": "X"}, 404, "ring_group_not_found"},
			{"GET", "/v1/ring_groups/rg_nope", nil, 404, "ring_group_not_found"},
		})
	})

	t.Run("numbers and users", func(t *testing.T) {
		n := ok(t, s, 201, "POST", "/v1/phone_numbers", map[string]any{"number": "+14155550199", "ring_group_id": group})
		require.Equal(t, group, n["ring_group_id"])
		require.Nil(t, n["user"])
		id := n["id"].(string)
		n = ok(t, s, 200, "PATCH", "/v1/phone_numbers/"+id, map[string]any{"user": carol})
		require.Equal(t, carol, n["user"])
		require.Nil(t, n["ring_group_id"])
		n = ok(t, s, 200, "PATCH", "/v1/phone_numbers/"+id, map[string]any{"ring_group_id": group})
		require.Nil(t, n["user"])
		checkRESTErrors(t, s, []restCase{
			{"PATCH", "/v1/phone_numbers/" + id, map[string]any{"user": carol, "ring_group_id": group}, 400, "conflicting_routes"},
			{"PATCH", "/v1/phone_numbers/" + id, map[string]any{"ring_group_id": "rg_nope"}, 400, "unknown_ring_group"},
		})

		u := ok(t, s, 201, "POST", "/v1/users", map[string]any{"name": "Dave", "extension": "104"})
		require.Equal(t, true, u["can_call_external"])
		u = ok(t, s, 200, "PATCH", "/v1/users/"+u["id"].(string), map[string]any{"can_call_external": false})
		require.Equal(t, false, u["can_call_external"])
		ok(t, s, 200, "PATCH", "/v1/users/"+alice, map[string]any{"can_call_external": true})
	})

	t.Run("follow-me", func(t *testing.T) {
		path := "/v1/users/" + bob + "/follow_me"
		checkRESTErrors(t, s, []restCase{{"GET", path, nil, 404, "follow_me_not_found"}})
		f := ok(t, s, 200, "PUT", path, map[string]any{"steps": []any{
			map[string]any{"targets": []string{"devices"}, "ring_seconds": 10},
			map[string]any{"targets": []string{"devices", "101", "+442071234567"}, "ring_seconds": 20},
		}, "final_forward": "200"})
		require.Len(t, f["steps"], 2)
		require.Equal(t, f, ok(t, s, 200, "GET", path, nil))
		checkRESTErrors(t, s, []restCase{
			{"PUT", path, map[string]any{"steps": []any{}}, 400, "invalid_steps"},
			{"PUT", path, map[string]any{"steps": []any{map[string]any{"targets": []string{}}}}, 400, "invalid_targets"},
			{"PUT", path, map[string]any{"steps": []any{map[string]any{"targets": []string{"bob"}}}}, 400, "invalid_target"},
			{"PUT", path, map[string]any{"steps": []any{map[string]any{"targets": []string{"devices"}, "ring_seconds": 1}}}, 400, "invalid_ring_seconds"},
			{"PUT", path, map[string]any{"steps": []any{map[string]any{"targets": []string{"devices"}}}, "final_forward": "x"}, 400, "invalid_final_forward"},
			{"PUT", "/v1/users/user_nope/follow_me", map[string]any{"steps": []any{map[string]any{"targets": []string{"devices"}}}}, 404, "user_not_found"},
		})
	})

	t.Run("route test", func(t *testing.T) {
		createTrunk(t, s, map[string]any{"name": "stored-uk", "host": "192.0.2.20", "prefixes": []string{"+44"}})

		p := ok(t, s, 200, "POST", "/v1/route_test", map[string]any{"from": "101", "destination": "102"})
		require.Equal(t, "ring", p["action"])
		require.Equal(t, bob, p["to_user"])
		require.Equal(t, map[string]any{"targets": []any{bob}, "ring_seconds": 10.0}, p["steps"].([]any)[0], "Bob's follow-me")
		require.Equal(t, "200", p["then"])
		require.NotEmpty(t, p["explain"])

		p = ok(t, s, 200, "POST", "/v1/route_test", map[string]any{"from": alice, "destination": "+442071234567"})
		require.Equal(t, "trunk", p["action"])
		require.Contains(t, p["trunks"], "stored-uk")

		p = ok(t, s, 200, "POST", "/v1/route_test", map[string]any{"from": "trunk", "destination": "+14155550199"})
		require.Equal(t, "ring", p["action"], p["explain"])
		require.Len(t, p["steps"].([]any)[0].(map[string]any)["targets"], 3, "the ring group's members")

		p = ok(t, s, 200, "POST", "/v1/route_test", map[string]any{"from": "101", "destination": "*43"})
		require.Equal(t, "echo", p["action"])

		p = ok(t, s, 200, "POST", "/v1/route_test", map[string]any{"from": "101", "destination": "555"})
		require.Equal(t, "refuse", p["action"])
		require.Contains(t, p["error"], "no user or ring group has extension 555")

		checkRESTErrors(t, s, []restCase{
			{"POST", "/v1/route_test", map[string]any{"destination": "102"}, 400, "missing_field"},
			{"POST", "/v1/route_test", map[string]any{"from": "101"}, 400, "missing_field"},
			{"POST", "/v1/route_test", map[string]any{"from": "999", "destination": "102"}, 400, "unknown_from"},
			{"POST", "/v1/route_test", map[string]any{"from": "bob", "destination": "102"}, 400, "invalid_from"},
			{"POST", "/v1/route_test", map[string]any{"from": "101", "destination": "102", "extra": 1}, 400, "invalid_json"},
		})
	})

	t.Run("deletes", func(t *testing.T) {
		ok(t, s, 200, "DELETE", "/v1/users/"+bob+"/follow_me", nil)
		checkRESTErrors(t, s, []restCase{{"DELETE", "/v1/users/" + bob + "/follow_me", nil, 404, "follow_me_not_found"}})
		ok(t, s, 200, "DELETE", "/v1/ring_groups/"+group, nil)
		list := ok(t, s, 200, "GET", "/v1/phone_numbers", nil)
		for _, n := range list["data"].([]any) {
			require.Nil(t, n.(map[string]any)["ring_group_id"], "deleting the group un-routes its numbers")
		}
		checkRESTErrors(t, s, []restCase{{"DELETE", "/v1/ring_groups/" + group, nil, 404, "ring_group_not_found"}})
	})
}
