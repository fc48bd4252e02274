package sipua

import (
	"log/slog"
	"strconv"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-voice/switchboard/internal/lograte"
)

// sipMetrics counts what the SIP side sees of a hostile network. The
// collectors are registered by the server (RegisterMetrics).
type sipMetrics struct {
	requests    *prometheus.CounterVec // by method
	responses   *prometheus.CounterVec // final responses we sent, by method and status
	refused     *prometheus.CounterVec // malformed or unsupported, by status
	junk        prometheus.Counter     // datagrams that are not SIP at all
	parseErrors prometheus.Counter     // SIP-looking messages sipgo could not parse
	writeErrors prometheus.Counter     // responses that could not be sent
	authFails   prometheus.Counter
	bans        *prometheus.CounterVec // by scope: source, user
}

func newSIPMetrics() *sipMetrics {
	return &sipMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_sip_requests_total",
			Help: "SIP requests received, by method."}, []string{"method"}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_sip_responses_total",
			Help: "Final responses sent to SIP requests, by method and status."}, []string{"method", "status"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_sip_requests_refused_total",
			Help: "SIP requests refused before any handler as malformed or unsupported, by status (0: a dropped ACK)."}, []string{"status"}),
		junk: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_sip_junk_datagrams_total",
			Help: "UDP datagrams dropped because they are not SIP messages."}),
		parseErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_sip_parse_errors_total",
			Help: "SIP messages dropped because they could not be parsed."}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_sip_response_write_errors_total",
			Help: "SIP responses that could not be sent."}),
		authFails: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_sip_auth_failures_total",
			Help: "Digest authentications that failed (wrong credentials)."}),
		bans: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_sip_bans_total",
			Help: "Bans imposed after repeated authentication failures, by scope (source, source_user, user_backoff)."}, []string{"scope"}),
	}
}

func (m *sipMetrics) collectors() []prometheus.Collector {
	streamParse := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "switchboard_sip_stream_parse_errors_total",
		Help: "SIP messages over TCP, TLS or WebSocket that could not be parsed (whole process)."},
		func() float64 { return float64(streamParseErrors.Load()) })
	return []prometheus.Collector{m.requests, m.responses, m.refused, m.junk, m.parseErrors, m.writeErrors, m.authFails, m.bans, streamParse}
}

func (m *sipMetrics) request(req *sip.Request) {
	method := req.Method.String()
	if !knownMethods[method] {
		method = "other" // bounded label values, whatever is sent
	}
	m.requests.WithLabelValues(method).Inc()
}

func (m *sipMetrics) rejected(status int) { m.refused.WithLabelValues(strconv.Itoa(status)).Inc() }

// responded counts a final response to req.
func (m *sipMetrics) responded(req *sip.Request, status int) {
	if status < 200 {
		return
	}
	method := req.Method.String()
	if !knownMethods[method] {
		method = "other"
	}
	m.responses.WithLabelValues(method, strconv.Itoa(status)).Inc()
}
func (m *sipMetrics) writeError() { m.writeErrors.Inc() }

var knownMethods = map[string]bool{"INVITE": true, "ACK": true, "CANCEL": true, "BYE": true, "REGISTER": true,
	"OPTIONS": true, "INFO": true, "REFER": true, "NOTIFY": true, "SUBSCRIBE": true, "MESSAGE": true,
	"PRACK": true, "UPDATE": true, "PUBLISH": true}

// RegisterMetrics adds the SIP side's collectors to reg.
func (u *UA) RegisterMetrics(reg prometheus.Registerer) error {
	subs := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_sip_subscriptions",
		Help: "Live dialog-package subscriptions (BLF keys)."}, func() float64 { return float64(u.subs.count()) })
	for _, c := range append(u.metrics.collectors(), subs) {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// limitedLog logs a line at most once per key per interval, so a flood
// from one source costs one line a minute; the next line says how many
// were held back ("suppressed").
type limitedLog struct {
	log  *slog.Logger
	rate *lograte.Limiter
}

func newLimitedLog(log *slog.Logger, every time.Duration) *limitedLog {
	return &limitedLog{log: log, rate: lograte.New(every, 1)}
}

// limited logs msg at WARN unless key logged within the interval.
func (l *limitedLog) limited(key, msg string, args ...any) {
	ok, n := l.rate.Allow(key)
	if !ok {
		return
	}
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	l.log.Warn(msg, args...)
}

func (l *limitedLog) allow(key string) bool {
	ok, _ := l.rate.Allow(key)
	return ok
}

// truncate shortens attacker-chosen text for a log line.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strconv.Quote(s[:n]) + "…"
}
