package server

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// callMetrics implements call.Observer with Prometheus collectors.
type callMetrics struct {
	started  *prometheus.CounterVec   // by direction
	answered *prometheus.CounterVec   // by direction
	ended    *prometheus.CounterVec   // by direction, reason
	setup    *prometheus.HistogramVec // by direction
	talked   prometheus.Histogram
}

func newCallMetrics() *callMetrics {
	return &callMetrics{
		started: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_calls_started_total",
			Help: "Calls started, by direction (internal, inbound, outbound)."}, []string{"direction"}),
		answered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_calls_answered_total",
			Help: "Calls answered, by direction."}, []string{"direction"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_calls_ended_total",
			Help: "Calls ended, by direction and end reason."}, []string{"direction", "reason"}),
		setup: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "switchboard_call_setup_seconds",
			Help:    "From a call's start to its answer (ringing included).",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 5, 10, 20, 30, 60}}, []string{"direction"}),
		talked: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "switchboard_call_talk_seconds",
			Help:    "How long answered calls lasted after the answer.",
			Buckets: []float64{5, 15, 30, 60, 120, 300, 600, 1800, 3600}}),
	}
}

func (m *callMetrics) CallStarted(direction string) { m.started.WithLabelValues(direction).Inc() }

func (m *callMetrics) CallAnswered(direction string, setup time.Duration) {
	m.answered.WithLabelValues(direction).Inc()
	m.setup.WithLabelValues(direction).Observe(setup.Seconds())
}

func (m *callMetrics) CallEnded(direction string, reason protocol.EndReason, talked time.Duration) {
	m.ended.WithLabelValues(direction, string(reason)).Inc()
	if talked > 0 {
		m.talked.Observe(talked.Seconds())
	}
}

// metricsForCalls makes the call metrics (once per server).
func (s *Server) metricsForCalls() *callMetrics {
	if s.callMetrics == nil {
		s.callMetrics = newCallMetrics()
	}
	return s.callMetrics
}

// registerMetrics registers every collector: the Go runtime's and the
// process's, the SIP side's, calls, sockets and draining.
func (s *Server) registerMetrics(reg *prometheus.Registry) {
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := s.SIP.RegisterMetrics(reg); err != nil {
		s.Log.Error("metrics: sip collectors", "err", err)
	}
	m := s.metricsForCalls()
	reg.MustRegister(m.started, m.answered, m.ended, m.setup, m.talked,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_calls_active", Help: "Calls up or ringing."},
			func() float64 { return float64(s.Calls.Count()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_sockets_connected", Help: "Open signalling sockets."},
			func() float64 { return float64(s.Hub.ConnectedCount()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_sip_registrations", Help: "Registered SIP contacts."},
			func() float64 { return float64(s.SIP.Registrar.Count()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_draining", Help: "1 while the server drains (SIGTERM)."},
			func() float64 {
				if s.draining.Load() {
					return 1
				}
				return 0
			}),
	)
}

// adminHandlers mounts /metrics (Prometheus) and /debug/pprof/ behind the
// admin key.
func (s *Server) adminHandlers(mux *http.ServeMux) {
	reg := prometheus.NewRegistry()
	s.registerMetrics(reg)
	mux.Handle("/metrics", s.adminOnly(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	mux.Handle("/debug/pprof/", s.adminOnly(http.HandlerFunc(pprof.Index)))
	mux.Handle("/debug/pprof/cmdline", s.adminOnly(http.HandlerFunc(pprof.Cmdline)))
	mux.Handle("/debug/pprof/profile", s.adminOnly(http.HandlerFunc(pprof.Profile)))
	mux.Handle("/debug/pprof/symbol", s.adminOnly(http.HandlerFunc(pprof.Symbol)))
	mux.Handle("/debug/pprof/trace", s.adminOnly(http.HandlerFunc(pprof.Trace)))
}

// adminOnly requires the admin key as a bearer token.
func (s *Server) adminOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Authorization")
		if len(key) < 7 || !strings.EqualFold(key[:7], "bearer ") || !s.AdminKey.Check(strings.TrimSpace(key[7:])) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{
				"code": "unauthorized", "message": "the admin API key is required"}})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// accessLog logs one line per HTTP request: method, the route's pattern
// (never the raw path, which may carry ids or tokens), status and
// duration. Health checks log at DEBUG; WebSocket upgrades when they end.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		level := slog.LevelInfo
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			level = slog.LevelDebug
		}
		pattern := r.Pattern
		if pattern == "" {
			pattern = "(no route)"
		}
		log.Log(r.Context(), level, "http", "method", r.Method, "route", pattern, "status", rec.status,
			"duration", time.Since(start).Round(time.Microsecond), "remote", r.RemoteAddr)
	})
}

// statusRecorder remembers the status a handler wrote. It passes
// Hijack and Flush through, so WebSockets and streaming still work.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Hijack hands the connection over (WebSocket upgrades).
func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	r.status = http.StatusSwitchingProtocols
	return http.NewResponseController(r.ResponseWriter).Hijack()
}

// Flush flushes what was written so far.
func (r *statusRecorder) Flush() { _ = http.NewResponseController(r.ResponseWriter).Flush() }
