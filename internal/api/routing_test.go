package api

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/route"
	"github.com/switchboard-voice/switchboard/internal/store"
)

func TestFollowMeREST(t *testing.T) {
	ta := newTestAPI(t, nil)
	alice := ta.user(t, "Alice", "101")
	path := "/v1/users/" + alice + "/follow_me"

	r := ta.do(t, "GET", path, nil)
	require.Equal(t, 404, r.Status)
	require.Equal(t, "follow_me_not_found", r.Body["code"])

	f := ta.must(t, 200, "PUT", path, map[string]any{"steps": []any{
		map[string]any{"targets": []string{"devices"}},
		map[string]any{"targets": []string{"devices", "102", "+14155550100"}, "ring_seconds": 25},
	}, "final_forward": "103"})
	require.Equal(t, "follow_me", f["object"])
	require.Equal(t, alice, f["user_id"])
	require.Equal(t, []any{
		map[string]any{"targets": []any{"devices"}, "ring_seconds": 20.0},
		map[string]any{"targets": []any{"devices", "102", "+14155550100"}, "ring_seconds": 25.0},
	}, f["steps"], "a step without ring_seconds rings 20 s")
	require.Equal(t, "103", f["final_forward"])
	require.Equal(t, f, ta.must(t, 200, "GET", path, nil))

	// PUT replaces the whole follow-me.
	f = ta.must(t, 200, "PUT", path, map[string]any{"steps": []any{map[string]any{"targets": []string{"07700900123"}, "ring_seconds": 5}}})
	require.Equal(t, "", f["final_forward"])
	require.Len(t, f["steps"], 1)

	step := func(targets []string, ring int) map[string]any {
		return map[string]any{"targets": targets, "ring_seconds": ring}
	}
	eleven := make([]any, 11)
	for i := range eleven {
		eleven[i] = step([]string{"devices"}, 20)
	}
	manyTargets := []string{"devices"}
	for i := range 10 {
		manyTargets = append(manyTargets, "20"+string(rune('0'+i)))
	}
	runBad(t, ta, []badRequest{
		{"no steps", "PUT", path, map[string]any{"steps": []any{}}, 400, "invalid_steps"},
		{"steps absent", "PUT", path, map[string]any{"final_forward": "102"}, 400, "invalid_steps"},
		{"eleven steps", "PUT", path, map[string]any{"steps": eleven}, 400, "invalid_steps"},
		{"no targets", "PUT", path, map[string]any{"steps": []any{step(nil, 20)}}, 400, "invalid_targets"},
		{"eleven targets", "PUT", path, map[string]any{"steps": []any{step(manyTargets, 20)}}, 400, "invalid_targets"},
		{"bad target", "PUT", path, map[string]any{"steps": []any{step([]string{"bob"}, 20)}}, 400, "invalid_target"},
		{"feature code target", "PUT", path, map[string]any{"steps": []any{step([]string{"*43"}, 20)}}, 400, "invalid_target"},
		{"repeated target", "PUT", path, map[string]any{"steps": []any{step([]string{"102", "102"}, 20)}}, 400, "invalid_target"},
		{"ring too short", "PUT", path, map[string]any{"steps": []any{step([]string{"devices"}, 4)}}, 400, "invalid_ring_seconds"},
		{"ring too long", "PUT", path, map[string]any{"steps": []any{step([]string{"devices"}, 301)}}, 400, "invalid_ring_seconds"},
		{"bad forward", "PUT", path, map[string]any{"steps": []any{step([]string{"devices"}, 20)}, "final_forward": "sip:x@y"}, 400, "invalid_final_forward"},
		{"unknown user", "PUT", "/v1/users/user_missing/follow_me", map[string]any{"steps": []any{step([]string{"devices"}, 20)}}, 404, "user_not_found"},
		{"get unknown user", "GET", "/v1/users/user_missing/follow_me", nil, 404, "user_not_found"},
		{"patch", "PATCH", path, map[string]any{}, 405, "method_not_allowed"},
	})
	r = ta.do(t, "PUT", path, map[string]any{"steps": []any{step([]string{"devices", "x"}, 20)}})
	require.Equal(t, map[string]any{"field": "steps[0].targets[1]"}, r.Body["details"])

	del := ta.must(t, 200, "DELETE", path, nil)
	require.Equal(t, true, del["deleted"])
	r = ta.do(t, "DELETE", path, nil)
	require.Equal(t, 404, r.Status)
	require.Equal(t, "follow_me_not_found", r.Body["code"])
}

func TestRingGroupsREST(t *testing.T) {
	ta := newTestAPI(t, nil)
	ctx := context.Background()
	alice, bob := ta.user(t, "Alice", "101"), ta.user(t, "Bob", "102")
	other := store.Account{Name: "Other"}
	require.NoError(t, ta.Store.CreateAccount(ctx, &other))
	stranger := store.User{AccountID: other.ID, Name: "S", Extension: "101"}
	require.NoError(t, ta.Store.CreateUser(ctx, &stranger))

	g := ta.must(t, 201, "POST", "/v1/ring_groups", map[string]any{"name": " Sales ", "extension": "200",
		"members": []string{alice, bob}, "next": "101"})
	id := g["id"].(string)
	require.True(t, strings.HasPrefix(id, "rg_"), id)
	require.Equal(t, "ring_group", g["object"])
	require.Equal(t, "Sales", g["name"])
	require.EqualValues(t, 30, g["ring_seconds"], "the default ring time")
	require.Equal(t, []any{alice, bob}, g["members"])
	require.Equal(t, g, ta.must(t, 200, "GET", "/v1/ring_groups/"+id, nil))

	g2 := ta.must(t, 201, "POST", "/v1/ring_groups", map[string]any{"name": "Support", "members": []string{bob}, "ring_seconds": 15})
	require.Equal(t, "", g2["extension"])
	list := ta.must(t, 200, "GET", "/v1/ring_groups?limit=1", nil)
	require.Equal(t, true, list["has_more"])
	require.Equal(t, id, list["data"].([]any)[0].(map[string]any)["id"])
	list = ta.must(t, 200, "GET", "/v1/ring_groups?starting_after="+id, nil)
	require.Equal(t, false, list["has_more"])
	require.Len(t, list["data"], 1)

	g = ta.must(t, 200, "PATCH", "/v1/ring_groups/"+id, map[string]any{"members": []string{bob}, "ring_seconds": 45, "next": ""})
	require.Equal(t, []any{bob}, g["members"])
	require.EqualValues(t, 45, g["ring_seconds"])
	require.Equal(t, "Sales", g["name"])
	require.Equal(t, "200", g["extension"])

	grp := func(over map[string]any) map[string]any {
		b := map[string]any{"name": "G", "members": []string{alice}}
		for k, v := range over {
			b[k] = v
		}
		return b
	}
	fifty := make([]string, 51)
	for i := range fifty {
		fifty[i] = alice
	}
	runBad(t, ta, []badRequest{
		{"no name", "POST", "/v1/ring_groups", map[string]any{"members": []string{alice}}, 400, "missing_field"},
		{"no members", "POST", "/v1/ring_groups", map[string]any{"name": "G"}, 400, "missing_field"},
		{"blank name", "POST", "/v1/ring_groups", grp(map[string]any{"name": "  "}), 400, "invalid_name"},
		{"bad extension", "POST", "/v1/ring_groups", grp(map[string]any{"extension": "2a"}), 400, "invalid_extension"},
		{"empty members", "POST", "/v1/ring_groups", grp(map[string]any{"members": []string{}}), 400, "invalid_members"},
		{"too many members", "POST", "/v1/ring_groups", grp(map[string]any{"members": fifty}), 400, "invalid_members"},
		{"repeated member", "POST", "/v1/ring_groups", grp(map[string]any{"members": []string{alice, alice}}), 400, "invalid_members"},
		{"unknown member", "POST", "/v1/ring_groups", grp(map[string]any{"members": []string{"user_missing"}}), 400, "unknown_user"},
		{"member of another account", "POST", "/v1/ring_groups", grp(map[string]any{"members": []string{string(stranger.ID)}}), 400, "unknown_user"},
		{"ring too short", "POST", "/v1/ring_groups", grp(map[string]any{"ring_seconds": 0}), 400, "invalid_ring_seconds"},
		{"ring too long", "POST", "/v1/ring_groups", grp(map[string]any{"ring_seconds": 301}), 400, "invalid_ring_seconds"},
		{"bad next", "POST", "/v1/ring_groups", grp(map[string]any{"next": "voicemail"}), 400, "invalid_next"},
		{"next loops", "POST", "/v1/ring_groups", grp(map[string]any{"extension": "300", "next": "300"}), 400, "invalid_next"},
		{"unknown account", "POST", "/v1/ring_groups", grp(map[string]any{"account_id": "acct_missing"}), 400, "unknown_account"},
		{"user's extension", "POST", "/v1/ring_groups", grp(map[string]any{"extension": "101"}), 409, "extension_taken"},
		{"group's extension", "POST", "/v1/ring_groups", grp(map[string]any{"extension": "200"}), 409, "extension_taken"},
		{"user takes group extension", "POST", "/v1/users", map[string]any{"name": "X", "extension": "200"}, 409, "extension_taken"},
		{"user moves to group extension", "PATCH", "/v1/users/" + alice, map[string]any{"extension": "200"}, 409, "extension_taken"},
		{"patch to user's extension", "PATCH", "/v1/ring_groups/" + id, map[string]any{"extension": "102"}, 409, "extension_taken"},
		{"patch account", "PATCH", "/v1/ring_groups/" + id, map[string]any{"account_id": string(other.ID)}, 400, "immutable_field"},
		{"patch bad members", "PATCH", "/v1/ring_groups/" + id, map[string]any{"members": []string{"user_x"}}, 400, "unknown_user"},
		{"get missing", "GET", "/v1/ring_groups/rg_missing", nil, 404, "ring_group_not_found"},
		{"patch missing", "PATCH", "/v1/ring_groups/rg_missing", map[string]any{"name": "x"}, 404, "ring_group_not_found"},
		{"delete missing", "DELETE", "/v1/ring_groups/rg_missing", nil, 404, "ring_group_not_found"},
		{"bad limit", "GET", "/v1/ring_groups?limit=0", nil, 400, "invalid_limit"},
	})

	// Deleting a member takes them out of the group.
	ta.must(t, 200, "DELETE", "/v1/users/"+bob, nil)
	require.Equal(t, []any{}, ta.must(t, 200, "GET", "/v1/ring_groups/"+id, nil)["members"])

	require.Equal(t, true, ta.must(t, 200, "DELETE", "/v1/ring_groups/"+id, nil)["deleted"])
	ta.must(t, 201, "POST", "/v1/users", map[string]any{"name": "Dana", "extension": "200"})
}

func TestNumbersToRingGroups(t *testing.T) {
	ta := newTestAPI(t, nil)
	ctx := context.Background()
	alice := ta.user(t, "Alice", "101")
	g := ta.must(t, 201, "POST", "/v1/ring_groups", map[string]any{"name": "Sales", "members": []string{alice}})["id"].(string)
	other := store.Account{Name: "Other"}
	require.NoError(t, ta.Store.CreateAccount(ctx, &other))
	foreign := store.RingGroup{AccountID: other.ID, Name: "F", RingSeconds: 30}
	require.NoError(t, ta.Store.CreateRingGroup(ctx, &foreign))

	n := ta.must(t, 201, "POST", "/v1/phone_numbers", map[string]any{"number": "+14155550100", "ring_group_id": g})
	id := n["id"].(string)
	require.Equal(t, g, n["ring_group_id"])
	require.Nil(t, n["user"])

	n = ta.must(t, 200, "PATCH", "/v1/phone_numbers/"+id, map[string]any{"user": alice})
	require.Equal(t, alice, n["user"])
	require.Nil(t, n["ring_group_id"], "routing to a user clears the group")
	n = ta.must(t, 200, "POST", "/v1/phone_numbers/"+id, map[string]any{"ring_group_id": g})
	require.Equal(t, g, n["ring_group_id"])
	require.Nil(t, n["user"], "routing to a group clears the user")
	n = ta.must(t, 200, "PATCH", "/v1/phone_numbers/"+id, map[string]any{"user": "", "ring_group_id": g})
	require.Equal(t, g, n["ring_group_id"])

	runBad(t, ta, []badRequest{
		{"both on create", "POST", "/v1/phone_numbers", map[string]any{"number": "+14155550101", "user": alice, "ring_group_id": g}, 400, "conflicting_routes"},
		{"both on update", "PATCH", "/v1/phone_numbers/" + id, map[string]any{"user": alice, "ring_group_id": g}, 400, "conflicting_routes"},
		{"unknown group", "PATCH", "/v1/phone_numbers/" + id, map[string]any{"ring_group_id": "rg_missing"}, 400, "unknown_ring_group"},
		{"group of another account", "PATCH", "/v1/phone_numbers/" + id, map[string]any{"ring_group_id": string(foreign.ID)}, 400, "unknown_ring_group"},
		{"unknown group on create", "POST", "/v1/phone_numbers", map[string]any{"number": "+14155550101", "ring_group_id": "rg_x"}, 400, "unknown_ring_group"},
	})

	ta.must(t, 200, "DELETE", "/v1/ring_groups/"+g, nil)
	n = ta.must(t, 200, "GET", "/v1/phone_numbers/"+id, nil)
	require.Nil(t, n["ring_group_id"], "deleting the group un-routes its numbers")
}

func TestRouteTestREST(t *testing.T) {
	ta := newTestAPI(t, func(a *API) {
		a.TrunkInfos = func(context.Context) []route.TrunkInfo {
			return []route.TrunkInfo{{Name: "backup", Prefixes: []string{"+1"}, Priority: 2}, {Name: "main", Prefixes: []string{"+1"}, Priority: 1}}
		}
	})
	alice, bob := ta.user(t, "Alice", "101"), ta.user(t, "Bob", "102")
	ta.must(t, 201, "POST", "/v1/ring_groups", map[string]any{"name": "Sales", "extension": "200", "members": []string{alice, bob}})
	ta.must(t, 200, "PUT", "/v1/users/"+bob+"/follow_me", map[string]any{"steps": []any{
		map[string]any{"targets": []string{"devices"}, "ring_seconds": 10}}, "final_forward": "200"})

	p := ta.must(t, 200, "POST", "/v1/route_test", map[string]any{"from": "101", "destination": "102"})
	require.Equal(t, "route_plan", p["object"])
	require.Equal(t, "ring", p["action"])
	require.Equal(t, bob, p["to_user"])
	require.Equal(t, []any{map[string]any{"targets": []any{bob}, "ring_seconds": 10.0}}, p["steps"])
	require.Equal(t, "200", p["then"])
	require.Nil(t, p["error"])
	require.NotEmpty(t, p["explain"])

	p = ta.must(t, 200, "POST", "/v1/route_test", map[string]any{"from": alice, "destination": "4155550100"})
	require.Equal(t, "trunk", p["action"])
	require.Equal(t, "+14155550100", p["number"], "a national number in the default plan's US")
	require.Equal(t, []any{"main", "backup"}, p["trunks"], "by priority")

	p = ta.must(t, 200, "POST", "/v1/route_test", map[string]any{"from": "101", "destination": "*43"})
	require.Equal(t, "echo", p["action"])

	// Inbound calls reach the account's numbers, not the outside world.
	p = ta.must(t, 200, "POST", "/v1/route_test", map[string]any{"from": "trunk", "destination": "+14155550100"})
	require.Equal(t, "refuse", p["action"])
	require.NotNil(t, p["error"])

	ta.must(t, 200, "PATCH", "/v1/users/"+alice, map[string]any{"can_call_external": false})
	p = ta.must(t, 200, "POST", "/v1/route_test", map[string]any{"from": "101", "destination": "+14155550100"})
	require.Equal(t, "refuse", p["action"])
	require.Contains(t, p["error"], "not allowed")
	p = ta.must(t, 200, "POST", "/v1/route_test", map[string]any{"from": "101", "destination": "911"})
	require.Equal(t, "trunk", p["action"], "emergency calls always go out")
	require.Equal(t, true, p["emergency"])

	p = ta.must(t, 200, "POST", "/v1/route_test", map[string]any{"from": "101", "destination": "bob"})
	require.Equal(t, "refuse", p["action"])
	require.Contains(t, p["error"], "invalid destination")

	runBad(t, ta, []badRequest{
		{"no from", "POST", "/v1/route_test", map[string]any{"destination": "102"}, 400, "missing_field"},
		{"no destination", "POST", "/v1/route_test", map[string]any{"from": "101"}, 400, "missing_field"},
		{"unknown extension", "POST", "/v1/route_test", map[string]any{"from": "109", "destination": "102"}, 400, "unknown_from"},
		{"unknown user", "POST", "/v1/route_test", map[string]any{"from": "user_missing", "destination": "102"}, 400, "unknown_from"},
		{"garbage from", "POST", "/v1/route_test", map[string]any{"from": "alice", "destination": "102"}, 400, "invalid_from"},
		{"unknown account", "POST", "/v1/route_test?account=acct_x", map[string]any{"from": "101", "destination": "102"}, 404, "account_not_found"},
		{"get", "GET", "/v1/route_test", nil, 405, "method_not_allowed"},
	})
}

func TestRouteTestStoredTrunks(t *testing.T) {
	ta := newTestAPI(t, nil)
	require.NoError(t, ta.Store.CreateTrunk(context.Background(), &store.Trunk{Name: "stored", Host: "192.0.2.1", Prefixes: []string{"+44"}}))
	ta.user(t, "Alice", "101")
	ta.must(t, 200, "PUT", "/v1/dial_plan", map[string]any{"international_allow": []string{"+44"}})
	p := ta.must(t, 200, "POST", "/v1/route_test", map[string]any{"from": "101", "destination": "+442071234567"})
	require.Equal(t, "trunk", p["action"], p["explain"])
	require.Equal(t, []any{"stored"}, p["trunks"], "without TrunkInfos the stored trunks route")
}
