package server

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metricsHandler serves Prometheus metrics behind the admin key: the Go
// runtime's and the SIP side's counters.
func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := s.SIP.RegisterMetrics(reg); err != nil {
		s.Log.Error("metrics: sip collectors", "err", err)
	}
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Authorization")
		if len(key) < 7 || !strings.EqualFold(key[:7], "bearer ") || !s.AdminKey.Check(strings.TrimSpace(key[7:])) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
			http.Error(w, `{"error":{"code":"unauthorized","message":"the admin API key is required"}}`, http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
