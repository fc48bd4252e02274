package web

import "net/http"

// The admin console is a page of its own at /admin: admin.js talks to the
// REST API with the admin key (or an admin user's token) from
// sessionStorage. Its sources are sdk/js/admin; `npm run build:admin`
// there writes assets/admin/.
const adminPage = "admin/index.html"

// adminCSP is stricter than the softphone's: the console needs no media,
// no microphone and no form posts; scripts and styles are its own files.
const adminCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; media-src 'self'; manifest-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// AdminBudget is the most the console's files may weigh, each gzipped, in
// total (a test checks the committed build).
const AdminBudget = 60 * 1024

func adminHeaders(h http.Header) {
	h.Set("Content-Security-Policy", adminCSP)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}
