package server

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/httplimit"
	"github.com/switchboard-voice/switchboard/test/syncbuf"
)

func TestAccessLogNamesTheRouteNotThePath(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/users/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	mux.HandleFunc("GET /healthz", func(http.ResponseWriter, *http.Request) {})
	h := accessLog(log, mux)

	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/users/user_secretish?token=abc", nil))
	line := out.String()
	require.Contains(t, line, `route="GET /v1/users/{id}"`)
	require.Contains(t, line, "status=418")
	require.NotContains(t, line, "user_secretish")
	require.NotContains(t, line, "token=abc")

	out.Reset()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/healthz", nil))
	require.Empty(t, out.String(), "health checks log at DEBUG")

	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/nowhere", nil))
	require.True(t, strings.Contains(out.String(), `route="(no route)"`) && strings.Contains(out.String(), "status=404"))
}

// A flood of requests without credentials over one keep-alive connection
// costs accessBurst lines and then about one a second; a connection that
// showed credentials logs every request.
func TestAccessLogBoundsAnUnauthenticatedFlood(t *testing.T) {
	var out syncbuf.Buffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/users", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer good" {
			httplimit.MarkAuthenticated(r.Context())
			httplimit.NoteCaller(r.Context(), "user", "acct_1")
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	})
	srv := httptest.NewUnstartedServer(accessLog(log, mux))
	srv.Listener = httplimit.NewListener(srv.Listener, 10, log)
	srv.Config.ConnContext = httplimit.ConnContext
	srv.Start()
	defer srv.Close()

	get := func(c *http.Client, auth string) {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/users", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := c.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	flood := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	defer flood.CloseIdleConnections()
	start := time.Now()
	for range 2000 {
		get(flood, "")
	}
	took := time.Since(start)
	lines := strings.Count(out.String(), "status=401")
	t.Logf("2000 requests without credentials on one connection in %v: %d access lines", took.Round(time.Millisecond), lines)
	require.GreaterOrEqual(t, lines, accessBurst)
	require.LessOrEqual(t, lines, accessBurst+1+int(took/time.Second), "2000 requests in %v", took)

	// One more after a pause says how many were held back.
	time.Sleep(1100 * time.Millisecond)
	get(flood, "")
	require.Regexp(t, `status=401 .*suppressed=\d+`, out.String())

	out.Reset()
	authed := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	defer authed.CloseIdleConnections()
	for range 100 {
		get(authed, "Bearer good")
	}
	require.Equal(t, 100, strings.Count(out.String(), "status=200"), "a connection with credentials logs every request")
	require.Equal(t, 100, strings.Count(out.String(), "as=user account=acct_1"), "the line names the caller's account")
}
