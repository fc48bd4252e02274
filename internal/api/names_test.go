package api

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/store"
)

func TestNamesRejectBidiAndControlCharacters(t *testing.T) {
	ta := newTestAPI(t, nil)
	alice := ta.user(t, "Alice", "101")
	group := ta.must(t, 201, "POST", "/v1/ring_groups", map[string]any{"name": "Sales", "members": []string{alice}})["id"].(string)
	var tests []badRequest
	for _, bad := range []struct{ name, value string }{
		{"RLO", "Alice\u202Egnp.exe"}, {"LRE", "\u202AAlice"}, {"PDF", "Alice\u202C"},
		{"LRI", "\u2066Alice"}, {"PDI", "Alice\u2069"}, {"FSI", "A\u2068lice"},
		{"RLM", "Alice\u200F"}, {"ALM", "\u061CAlice"},
		{"NUL", "Ali\x00ce"}, {"newline", "Alice\nBob"}, {"C1", "Ali\u0085ce"}, {"line separator", "Ali\u2028ce"},
	} {
		tests = append(tests,
			badRequest{"user create " + bad.name, "POST", "/v1/users", map[string]any{"name": bad.value, "extension": "150"}, 400, "invalid_name"},
			badRequest{"user update " + bad.name, "PATCH", "/v1/users/" + alice, map[string]any{"name": bad.value}, 400, "invalid_name"},
			badRequest{"ring group create " + bad.name, "POST", "/v1/ring_groups", map[string]any{"name": bad.value, "members": []string{alice}}, 400, "invalid_name"},
			badRequest{"ring group update " + bad.name, "PATCH", "/v1/ring_groups/" + group, map[string]any{"name": bad.value}, 400, "invalid_name"},
			badRequest{"trunk create " + bad.name, "POST", "/v1/trunks", map[string]any{"name": bad.value, "host": "192.0.2.1"}, 400, "invalid_name"},
		)
	}
	runBad(t, ta, tests)
	r := ta.do(t, "POST", "/v1/users", map[string]any{"name": "Eve\u202Egnp", "extension": "151"})
	require.Contains(t, r.Body["error"], "bidirectional", string(r.Raw))

	// Letters of any script, emoji sequences (ZWJ) and accents are fine.
	for i, ok := range []string{"José Müller", "محمد", "王小明", "👩\u200D💻 Dev"} {
		ta.must(t, 201, "POST", "/v1/users", map[string]any{"name": ok, "extension": []string{"160", "161", "162", "163"}[i]})
	}
	require.Error(t, CheckUser(store.User{Name: "Bad\xffUTF-8", Extension: "170", SIPUsername: "170"}))
}
