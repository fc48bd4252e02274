// Package web serves Switchboard's browser softphone: a hand-written page
// (index.html, app.js, app.css) that signs in with a user token and places,
// receives and controls calls through the browser SDK, which it loads from
// /sdk/phone.js (the bundle built from sdk/js and embedded here).
//
// Handler serves only those files; every other path is a 404, so the server
// can mount it at "/" next to the REST API without shadowing anything.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed assets
var embedded embed.FS

// Assets is the embedded asset tree: index.html, app.js, app.css and the SDK
// bundle phone.js (with phone.js.map when built).
func Assets() fs.FS {
	sub, err := fs.Sub(embedded, "assets")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// route maps a URL path to an asset and its content type.
type route struct {
	file, contentType string
}

var routes = map[string]route{
	"/":             {"index.html", "text/html; charset=utf-8"},
	"/index.html":   {"index.html", "text/html; charset=utf-8"},
	"/app.js":       {"app.js", "text/javascript; charset=utf-8"},
	"/app.css":      {"app.css", "text/css; charset=utf-8"},
	"/sdk/phone.js": {"phone.js", "text/javascript; charset=utf-8"},
	// The bundle's source map, when the SDK build writes one.
	"/sdk/phone.js.map": {"phone.js.map", "application/json"},
	// The admin console (admin.go), built from sdk/js/admin.
	"/admin":           {adminPage, "text/html; charset=utf-8"},
	"/admin/admin.js":  {"admin/admin.js", "text/javascript; charset=utf-8"},
	"/admin/admin.css": {"admin/admin.css", "text/css; charset=utf-8"},
}

// contentSecurityPolicy keeps the page to its own scripts and styles and to
// the server it came from (REST and the signalling WebSocket).
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; media-src 'self' blob: mediastream:; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the softphone page and the SDK bundle (GET and HEAD).
func Handler() http.Handler {
	files := Assets()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt, ok := routes[path.Clean("/"+r.URL.Path)]
		if ok && r.URL.Path != "/" && r.URL.Path != "/admin/" && strings.HasSuffix(r.URL.Path, "/") {
			ok = false
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := fs.ReadFile(files, rt.file)
		if err != nil { // the SDK bundle is not built
			http.Error(w, rt.file+" is not built; run the SDK build (sdk/js: npm run build)", http.StatusNotFound)
			return
		}
		h := w.Header()
		h.Set("Content-Type", rt.contentType)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		switch rt.file {
		case "index.html":
			h.Set("Content-Security-Policy", contentSecurityPolicy)
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Permissions-Policy", "microphone=(self)")
		case adminPage:
			adminHeaders(h)
		default:
			h.Set("Permissions-Policy", "microphone=(self)")
		}
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body)
	})
}
