package web

import (
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

func mediaType(t *testing.T, res *http.Response) string {
	t.Helper()
	mt, _, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", res.Header.Get("Content-Type"), err)
	}
	return mt
}

func TestIndexIsHTML(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/", "/index.html"} {
		res := get(t, h, http.MethodGet, p)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d", p, res.StatusCode)
		}
		if mt := mediaType(t, res); mt != "text/html" {
			t.Errorf("GET %s: media type %q, want text/html", p, mt)
		}
		if res.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: no Content-Security-Policy", p)
		}
		body, _ := io.ReadAll(res.Body)
		for _, want := range []string{`src="/app.js"`, `href="/app.css"`, `data-testid="token-input"`} {
			if !strings.Contains(string(body), want) {
				t.Errorf("GET %s: body lacks %s", p, want)
			}
		}
	}
}

func TestAppAssets(t *testing.T) {
	h := Handler()
	for p, want := range map[string]string{"/app.js": "text/javascript", "/app.css": "text/css"} {
		res := get(t, h, http.MethodGet, p)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d", p, res.StatusCode)
		}
		if mt := mediaType(t, res); mt != want {
			t.Errorf("GET %s: media type %q, want %q", p, mt, want)
		}
	}
	body, _ := io.ReadAll(get(t, h, http.MethodGet, "/app.js").Body)
	if !strings.Contains(string(body), "'/sdk/phone.js'") {
		t.Error("app.js does not import /sdk/phone.js")
	}
}

func TestSDKBundle(t *testing.T) {
	if _, err := fs.Stat(Assets(), "phone.js"); err != nil {
		t.Fatalf("assets/phone.js missing (build the SDK: cd sdk/js && npm run build): %v", err)
	}
	res := get(t, Handler(), http.MethodGet, "/sdk/phone.js")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	if mt := mediaType(t, res); mt != "text/javascript" && mt != "application/javascript" {
		t.Errorf("media type %q, want a JavaScript type", mt)
	}
	body, _ := io.ReadAll(res.Body)
	if !strings.Contains(string(body), "Phone") {
		t.Error("bundle does not mention Phone")
	}
	head := get(t, Handler(), http.MethodHead, "/sdk/phone.js")
	if b, _ := io.ReadAll(head.Body); head.StatusCode != http.StatusOK || len(b) != 0 {
		t.Errorf("HEAD: status %d, %d body bytes", head.StatusCode, len(b))
	}
}

func TestUnknownPaths404(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/nope", "/phone.js", "/sdk/", "/sdk/other.js", "/assets/app.js",
		"/app.js/", "/index.html/x", "/demo-users.json", "/v1/unknown"} {
		if res := get(t, h, http.MethodGet, p); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, res.StatusCode)
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	res := get(t, Handler(), http.MethodPost, "/")
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /: status %d, want 405", res.StatusCode)
	}
	if res.Header.Get("Allow") == "" {
		t.Error("no Allow header")
	}
}

func TestAssetsFS(t *testing.T) {
	for _, f := range []string{"index.html", "app.js", "app.css"} {
		if _, err := fs.Stat(Assets(), f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
