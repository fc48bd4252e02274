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

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/httplimit"
	"github.com/switchboard-voice/switchboard/internal/lograte"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// callMetrics implements call.Observer with Prometheus collectors.
type callMetrics struct {
	started  *prometheus.CounterVec   // by direction
	answered *prometheus.CounterVec   // by direction
	ended    *prometheus.CounterVec   // by direction, reason
	setup    *prometheus.HistogramVec // by direction
	talked   prometheus.Histogram
	refused  *prometheus.CounterVec // by limit

	// Media, from each leg's stats when its call ends, by leg kind.
	packetsIn, packetsOut, packetsLost *prometheus.CounterVec
	bytesIn, bytesOut                  *prometheus.CounterVec
	loss, jitter                       *prometheus.HistogramVec
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
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_call_limit_refusals_total",
			Help: "New calls refused by a rate limit or the account cap, by limit (socket, user, account)."}, []string{"limit"}),
		packetsIn: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_media_packets_received_total",
			Help: "RTP packets the server received from legs (counted when their calls end), by leg kind."}, []string{"kind"}),
		packetsOut: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_media_packets_sent_total",
			Help: "RTP packets the server sent to legs (counted when their calls end), by leg kind."}, []string{"kind"}),
		packetsLost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_media_packets_lost_total",
			Help: "RTP packets lost on the way to the server (counted when their calls end), by leg kind."}, []string{"kind"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_media_bytes_received_total",
			Help: "RTP payload bytes the server received from legs (counted when their calls end), by leg kind."}, []string{"kind"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_media_bytes_sent_total",
			Help: "RTP payload bytes the server sent to legs (counted when their calls end), by leg kind."}, []string{"kind"}),
		loss: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "switchboard_leg_loss_ratio",
			Help:    "Each leg's share of packets lost towards the server, over its call.",
			Buckets: []float64{0, .001, .005, .01, .02, .05, .1, .2}}, []string{"kind"}),
		jitter: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "switchboard_leg_jitter_seconds",
			Help:    "Each leg's interarrival jitter at the server, when its call ended.",
			Buckets: []float64{.001, .005, .01, .02, .03, .05, .1, .2}}, []string{"kind"}),
	}
}

func (m *callMetrics) CallRefused(limit string) { m.refused.WithLabelValues(limit).Inc() }

func (m *callMetrics) CallStarted(direction string) { m.started.WithLabelValues(direction).Inc() }

func (m *callMetrics) CallAnswered(direction string, setup time.Duration) {
	m.answered.WithLabelValues(direction).Inc()
	m.setup.WithLabelValues(direction).Observe(setup.Seconds())
}

func (m *callMetrics) CallEnded(direction string, reason call.EndReason, talked time.Duration, legs []store.LegStats) {
	m.ended.WithLabelValues(direction, string(reason)).Inc()
	if talked > 0 {
		m.talked.Observe(talked.Seconds())
	}
	for _, l := range legs {
		kind := l.Kind
		if kind != "webrtc" && kind != "sip" {
			kind = "other"
		}
		m.packetsIn.WithLabelValues(kind).Add(float64(l.PacketsReceived))
		m.packetsOut.WithLabelValues(kind).Add(float64(l.PacketsSent))
		m.bytesIn.WithLabelValues(kind).Add(float64(l.BytesReceived))
		m.bytesOut.WithLabelValues(kind).Add(float64(l.BytesSent))
		if l.PacketsLost > 0 {
			m.packetsLost.WithLabelValues(kind).Add(float64(l.PacketsLost))
		}
		if expected := float64(l.PacketsReceived) + float64(max(l.PacketsLost, 0)); expected > 0 {
			m.loss.WithLabelValues(kind).Observe(float64(max(l.PacketsLost, 0)) / expected)
			m.jitter.WithLabelValues(kind).Observe(l.JitterMillis / 1000)
		}
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
	reg.MustRegister(s.timed.seconds, m.started, m.answered, m.ended, m.setup, m.talked, m.refused,
		m.packetsIn, m.packetsOut, m.packetsLost, m.bytesIn, m.bytesOut, m.loss, m.jitter,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_calls_active", Help: "Calls up or ringing."},
			func() float64 { return float64(s.Calls.Count()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_transcoding_bridges",
			Help: "Live calls whose two legs' codecs differ, so the server transcodes."},
			func() float64 { return float64(s.bridges.transcoding()) }),
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
	s.registerEventMetrics(reg)
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
		httplimit.MarkAuthenticated(r.Context())
		httplimit.NoteCaller(r.Context(), "admin", "")
		h.ServeHTTP(w, r)
	})
}

// accessLog logs one line per HTTP request: method, the route's pattern
// (never the raw path, which may carry ids or tokens), status and
// duration. Health checks log at DEBUG; WebSocket upgrades when they end.
// Requests on connections that showed no valid credentials log at most
// accessBurst lines at once and then one a second per source address; the
// next line says how many were held back ("suppressed"), so a request
// flood cannot flood the log.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	unauth := lograte.New(time.Second, accessBurst)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		ctx, note := httplimit.WithNote(r.Context())
		r = r.WithContext(ctx)
		next.ServeHTTP(rec, r)
		level := slog.LevelInfo
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			level = slog.LevelDebug
		}
		if !log.Enabled(r.Context(), level) {
			return
		}
		args := []any{"method", r.Method, "route", routeOf(r), "status", rec.status,
			"duration", time.Since(start).Round(time.Microsecond), "remote", r.RemoteAddr}
		if as, acct := note.Caller(); as != "" {
			args = append(args, "as", as)
			if acct != "" {
				args = append(args, "account", acct)
			}
		}
		if !httplimit.Authenticated(r.Context()) {
			ok, n := unauth.Allow(hostOf(r.RemoteAddr))
			if !ok {
				return
			}
			if n > 0 {
				args = append(args, "suppressed", n)
			}
		}
		log.Log(r.Context(), level, "http", args...)
	})
}

// accessBurst is how many access lines a source without credentials may
// cause at once (a page load fetches a handful of files).
const accessBurst = 20

func routeOf(r *http.Request) string {
	if r.Pattern == "" {
		return "(no route)"
	}
	return r.Pattern
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
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
