package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOriginPolicy(t *testing.T) {
	const app, evil = "https://app.example.com", "https://evil.example.net"
	type want struct {
		status int
		acao   string // Access-Control-Allow-Origin, "" for none
		vary   bool   // Vary names Origin
	}
	preflight := func(path, origin string) *http.Request {
		r := httptest.NewRequest(http.MethodOptions, path, nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "GET")
		r.Header.Set("Access-Control-Request-Headers", "authorization")
		return r
	}
	get := func(path, origin string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		return r
	}
	upgrade := func(origin string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "http://sb.example.org:8080/v1/webrtc", nil)
		r.Header.Set("Upgrade", "websocket")
		r.Header.Set("Connection", "Upgrade")
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		return r
	}
	for _, tc := range []struct {
		name    string
		origins []string
		req     *http.Request
		want    want
	}{
		{"listed origin: token route preflight", []string{app}, preflight("/v1/webrtc/ice-servers", app), want{204, app, true}},
		{"listed origin: token route request", []string{app}, get("/v1/me/directory", app), want{200, app, true}},
		{"listed origin: admin route", []string{app}, preflight("/v1/users", app), want{204, app, true}},
		{"other origin: no grant", []string{app}, preflight("/v1/webrtc/ice-servers", evil), want{204, "", true}},
		{"wildcard: token route", []string{"*"}, preflight("/v1/webrtc/ice-servers", evil), want{204, "*", true}},
		{"wildcard: token route request", []string{"*"}, get("/v1/me", evil), want{200, "*", true}},
		{"wildcard: the SDK bundle", []string{"*"}, get("/sdk/phone.js", evil), want{200, "*", true}},
		{"wildcard never opens admin routes", []string{"*"}, preflight("/v1/users", evil), want{405, "", false}},
		{"wildcard never opens admin routes (request)", []string{"*"}, get("/v1/users", evil), want{200, "", false}},
		{"wildcard and a name: the name opens admin routes", []string{"*", app}, get("/v1/users", app), want{200, app, true}},
		{"wildcard and a name: others still not", []string{"*", app}, get("/v1/users", evil), want{200, "", true}},
		{"none configured: same origin only", nil, preflight("/v1/webrtc/ice-servers", app), want{405, "", false}},
		{"no Origin: not a browser", []string{app}, get("/v1/users", ""), want{200, "", true}},
		{"upgrade from another origin", nil, upgrade(evil), want{403, "", false}},
		{"upgrade from the server's own origin", nil, upgrade("http://sb.example.org:8080"), want{200, "", false}},
		{"upgrade from a listed origin", []string{app}, upgrade(app), want{200, "", false}},
		{"upgrade from an unlisted origin", []string{app}, upgrade(evil), want{403, "", false}},
		{"upgrade, wildcard", []string{"*"}, upgrade(evil), want{200, "", false}},
		{"upgrade without Origin", nil, upgrade(""), want{200, "", false}},
		{"upgrade with a junk Origin", []string{app}, upgrade("null"), want{403, "", false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodOptions {
					w.WriteHeader(http.StatusMethodNotAllowed) // as the API's mux does
				}
			})
			rec := httptest.NewRecorder()
			newOriginPolicy(tc.origins).wrap(next, "/v1/webrtc").ServeHTTP(rec, tc.req)
			require.Equal(t, tc.want.status, rec.Code, rec.Body.String())
			require.Equal(t, tc.want.acao, rec.Header().Get("Access-Control-Allow-Origin"))
			require.Equal(t, tc.want.vary, strings.Contains(strings.Join(rec.Header().Values("Vary"), ","), "Origin"),
				"Vary: %q", rec.Header().Values("Vary"))
			if tc.want.status == 403 {
				require.Contains(t, rec.Body.String(), `"code":"origin_not_allowed"`)
			}
			if tc.want.acao != "" && tc.req.Method == http.MethodOptions {
				require.Contains(t, strings.ToLower(rec.Header().Get("Access-Control-Allow-Headers")), "authorization")
				require.NotEmpty(t, rec.Header().Get("Access-Control-Max-Age"))
			}
		})
	}
}
