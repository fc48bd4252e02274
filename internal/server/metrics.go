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
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_calls_active", Help: "Calls up or ringing."},
			func() float64 { return float64(s.Calls.Count()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_sockets_connected", Help: "Open signalling sockets."},
			func() float64 { return float64(s.Hub.ConnectedCount()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_draining", Help: "1 while the server drains (SIGTERM)."},
			func() float64 {
				if s.draining.Load() {
					return 1
				}
				return 0
			}),
	)
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
