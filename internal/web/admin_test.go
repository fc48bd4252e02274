package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"testing"
)

func TestAdminPage(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/admin", "/admin/"} {
		res := get(t, h, http.MethodGet, p)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d", p, res.StatusCode)
		}
		if mt := mediaType(t, res); mt != "text/html" {
			t.Errorf("GET %s: media type %q", p, mt)
		}
		csp := res.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "form-action 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %s", p, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("GET %s: CSP allows unsafe sources: %q", p, csp)
		}
		body, _ := io.ReadAll(res.Body)
		for _, want := range []string{`src="/admin/admin.js"`, `href="/admin/admin.css"`} {
			if !strings.Contains(string(body), want) {
				t.Errorf("GET %s: body lacks %s", p, want)
			}
		}
	}
	for p, want := range map[string]string{"/admin/admin.js": "text/javascript", "/admin/admin.css": "text/css"} {
		res := get(t, h, http.MethodGet, p)
		if res.StatusCode != http.StatusOK || mediaType(t, res) != want {
			t.Errorf("GET %s: status %d, type %q", p, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
	for _, p := range []string{"/admin/x", "/admin/index.html", "/admin/admin.js/", "/admin//admin.js/"} {
		if res := get(t, h, http.MethodGet, p); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, res.StatusCode)
		}
	}
}

// The console's files, each gzipped, stay under AdminBudget.
func TestAdminBundleSize(t *testing.T) {
	total := 0
	for _, f := range []string{"admin/index.html", "admin/admin.js", "admin/admin.css"} {
		b, err := fs.ReadFile(Assets(), f)
		if err != nil {
			t.Fatalf("%s missing (cd sdk/js && npm run build:admin): %v", f, err)
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(b)
		_ = zw.Close()
		total += buf.Len()
		t.Logf("%s: %d B, gzip %d B", f, len(b), buf.Len())
	}
	if total > AdminBudget {
		t.Fatalf("admin console is %d B gzipped, over the %d B budget", total, AdminBudget)
	}
}
