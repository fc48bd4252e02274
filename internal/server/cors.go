package server

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rs/cors"

	"github.com/switchboard-voice/switchboard/internal/config"
)

// Browsers on other origins (an app built on the SDK, served from its own
// site) reach the REST API and the WebSockets under http.cors_origins:
//
//   - REST: the routes a user token opens, and the SDK's bundle (openRoute),
//     admit every listed origin, "*" included; every other route (the
//     admin key's) admits only origins listed by name, so a wildcard never
//     opens them.
//     Preflights are answered by github.com/rs/cors, with Vary: Origin.
//   - WebSockets: an upgrade that carries an Origin must come from the
//     server's own origin or a listed one ("*": any); others get 403
//     origin_not_allowed (cross-site WebSocket hijacking). Clients that
//     are not browsers send no Origin and are not concerned.
type originPolicy struct {
	any    bool
	listed map[string]bool
	token  *cors.Cors // CORS for token routes (nil: none)
	admin  *cors.Cors // CORS for the other routes (nil: none)
}

// corsMaxAge is how long a browser may cache a preflight's answer.
const corsMaxAge = 10 * time.Minute

func newOriginPolicy(origins []string) *originPolicy {
	p := &originPolicy{listed: map[string]bool{}}
	var named []string
	for _, o := range origins {
		n, err := config.NormalizeOrigin(o) // Validate has refused the bad ones
		if err != nil {
			continue
		}
		if n == "*" {
			p.any = true
			continue
		}
		if !p.listed[n] {
			p.listed[n] = true
			named = append(named, n)
		}
	}
	opts := func(allowed []string) cors.Options {
		return cors.Options{AllowedOrigins: allowed,
			AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
				http.MethodPatch, http.MethodDelete},
			AllowedHeaders: []string{"Authorization", "Content-Type"},
			MaxAge:         int(corsMaxAge / time.Second)}
	}
	// An empty AllowedOrigins means "all" to rs/cors: build none instead.
	if p.any {
		p.token = cors.New(opts([]string{"*"}))
	} else if len(named) > 0 {
		p.token = cors.New(opts(named))
	}
	if len(named) > 0 {
		p.admin = cors.New(opts(named))
	}
	return p
}

// openRoute reports whether a wildcard origin may use path: a route a user
// token opens and the admin key does not, or the SDK's bundle (a page on
// another origin imports it as a module, which is a CORS request).
func openRoute(path string) bool {
	return path == "/v1/webrtc/ice-servers" || path == "/v1/me" || strings.HasPrefix(path, "/v1/me/") ||
		strings.HasPrefix(path, "/sdk/")
}

// wrap applies the policy in front of next; wsPaths are the WebSocket
// endpoints.
func (p *originPolicy) wrap(next http.Handler, wsPaths ...string) http.Handler {
	ws := map[string]bool{}
	for _, w := range wsPaths {
		ws[w] = true
	}
	withCORS := func(c *cors.Cors) http.Handler {
		if c == nil {
			return next
		}
		return c.Handler(next)
	}
	token, admin := withCORS(p.token), withCORS(p.admin)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ws[r.URL.Path] {
			if !p.upgradeAllowed(r) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`{"error":"this origin may not open the WebSocket: add it to http.cors_origins","code":"origin_not_allowed"}` + "\n"))
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if openRoute(r.URL.Path) {
			token.ServeHTTP(w, r)
		} else {
			admin.ServeHTTP(w, r)
		}
	})
}

// upgradeAllowed checks a WebSocket upgrade's Origin, when it has one.
func (p *originPolicy) upgradeAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || p.any {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true // the server's own pages (the web softphone, the JsSIP page)
	}
	n, err := config.NormalizeOrigin(origin)
	return err == nil && p.listed[n]
}
