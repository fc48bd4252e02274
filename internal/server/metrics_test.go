package server

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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
