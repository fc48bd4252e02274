package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClusterStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/cluster/nodes" || r.Header.Get("Authorization") != "Bearer sk_admin" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"admin key required","code":"unauthorized"}`))
			return
		}
		_, _ = w.Write([]byte(`{"object":"list","data":[
			{"object":"cluster_node","node":"n1","self":true,"reachable":true,"rtt_ms":0.4,"calls":3,"max_calls":100,
			 "cpu":0.13,"max_cpu":0.85,"room":"n2","http":"10.0.0.1:8080","sip":"10.0.0.1:5060","started_at":"2025-01-01T00:00:00Z"},
			{"object":"cluster_node","node":"n2","reachable":false,"error":"timeout","calls":7,"draining":true,
			 "http":"10.0.0.2:8080","sip":"10.0.0.2:5060","started_at":"2025-01-01T00:00:00Z"}]}`))
	}))
	defer srv.Close()
	t.Setenv("SWITCHBOARD_ADMIN_KEY", "")
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  []string
		err  string
	}{
		{"table", []string{"status", "--url", srv.URL, "--key", "sk_admin"}, 0,
			[]string{"NODE", "n1 *", "100", "13%", "85%", " n2 ", "0.4ms", "10.0.0.1:5060", "n2", "true", "no: timeout", "2 live node(s)"}, ""},
		{"json", []string{"status", "--url", srv.URL, "--key", "sk_admin", "--json"}, 0,
			[]string{`"node":"n2"`}, ""},
		{"wrong key", []string{"status", "--url", srv.URL, "--key", "nope"}, 1, nil, "admin key required (401 unauthorized)"},
		{"no key", []string{"status", "--url", srv.URL}, 1, nil, "no admin key"},
		{"bad url", []string{"status", "--url", "ftp://x", "--key", "k"}, 1, nil, "want http://host:port"},
		{"unknown verb", []string{"list"}, 2, nil, "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), append([]string{"cluster"}, tc.args...), &out, &errOut)
			require.Equal(t, tc.code, code, errOut.String())
			for _, s := range tc.out {
				require.Contains(t, out.String(), s)
			}
			if tc.err != "" {
				require.Contains(t, errOut.String(), tc.err)
			}
		})
	}
	require.Equal(t, "http://127.0.0.1:8080", baseURL(":8080", false))
	require.Equal(t, "https://10.1.2.3:443", baseURL("10.1.2.3:443", true))
	require.Equal(t, "http://[::1]:80", baseURL("[::1]:80", false))
	require.True(t, strings.HasPrefix(baseURL("0.0.0.0:9", false), "http://127.0.0.1"))
}
