package sipua

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/gobwas/ws"
)

// Transports: sipgo is kept, with three guards put around it at its
// documented extension points (docs/adr/0002-sip-transport-guards.md).
//
//  1. Connections are dialled only for requests we originate. sipgo
//     answers a request whose TCP connection has gone by dialling the host
//     named in its top Via; RFC 3261 §18.2.2 allows that, but on the open
//     Internet it lets anyone aim our connections at a third party. Our
//     requests carry a context mark (dialOut); a dial without it fails, so
//     a response goes back on its own connection (or to the packet's
//     source over UDP) or not at all.
//  2. UDP datagrams that are not SIP are dropped before the parser and
//     counted, and logged at most once a minute per source, truncated.
//  3. sipgo's own "failed to parse" log lines (which quote the whole
//     message at ERROR) become a counter and a rate-limited, truncated
//     WARN line.

type dialKey struct{}

// errNoDial is why a connection was not opened for a response.
var errNoDial = errors.New("sip: not opening a connection for a response (RFC 3261 §18.2.2 fallback disabled)")

// dialOut marks ctx as one of our own requests, which may open a
// connection to the far end.
func dialOut(ctx context.Context) context.Context {
	return context.WithValue(ctx, dialKey{}, true)
}

func mayDial(ctx context.Context) error {
	if ok, _ := ctx.Value(dialKey{}).(bool); ok {
		return nil
	}
	return errNoDial
}

func guardedDialer(laddr net.Addr) net.Dialer {
	return net.Dialer{LocalAddr: laddr, Timeout: dialTimeout,
		ControlContext: func(ctx context.Context, _, _ string, _ syscall.RawConn) error { return mayDial(ctx) }}
}

// wsNeverDials: we never open WebSocket connections; browser phones come
// to us.
func wsNeverDials(net.Addr) ws.Dialer {
	return ws.Dialer{NetDial: func(context.Context, string, string) (net.Conn, error) { return nil, errNoDial }}
}

// transportOptions are the sipgo user agent options that install the
// guards.
func (u *UA) transportOptions() []sipgo.UserAgentOption {
	installDefaultSIPLog()
	tpLog := slog.New(&sipgoLogHandler{next: u.log.Handler, parse: u.metrics.parseErrors.Inc, limits: u.logs})
	transports := sip.TransportsConfig{
		TCP: &sip.TransportTCP{DialerCreate: guardedDialer},
		TLS: &sip.TransportTLS{TransportTCP: &sip.TransportTCP{DialerCreate: guardedDialer}},
		WS:  &sip.TransportWS{DialerCreate: wsNeverDials},
		WSS: &sip.TransportWSS{TransportWS: &sip.TransportWS{DialerCreate: wsNeverDials}},
	}
	return []sipgo.UserAgentOption{
		sipgo.WithUserAgentParser(u.parser),
		sipgo.WithUserAgentTransportLayerOptions(
			sip.WithTransportLayerLogger(tpLog),
			sip.WithTransportLayerReadFilter(u.readFilter),
			sip.WithTransportLayerTransports(transports),
		),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(tpLog)),
	}
}

// readFilter drops UDP datagrams that cannot be SIP, cuts a datagram to
// its first message, and answers (or drops) one that does not parse
// (compat.go). It never returns an error: sipgo stops reading the socket
// on one. TCP, TLS and WebSocket streams are framed and parsed by sipgo:
// a stream that does not parse is closed.
func (u *UA) readFilter(props sip.TransportReadProps, data []byte) ([]byte, error) {
	if props.Transport != "UDP" {
		return data, nil
	}
	if len(bytes.Trim(data, "\r\n")) == 0 {
		return data, nil // keep-alive (RFC 5626 §4.4.1): sipgo answers it
	}
	src := ""
	if props.RemoteAddr != nil {
		src = props.RemoteAddr.String()
	}
	if !looksLikeSIP(data) {
		u.metrics.junk.Inc()
		u.logs.limited("junk:"+host(src), "sip: dropped a datagram that is not SIP", "src", src, "bytes", len(data),
			"start", truncate(string(data), 64))
		return nil, nil
	}
	data = frameDatagram(data)
	if _, err := u.parser.ParseSIP(data); err != nil {
		u.metrics.parseErrors.Inc()
		u.logs.limited("parse:"+host(src), "sip: could not parse a message", "src", src, "err", err,
			"start", truncate(string(data), 64))
		if props.RemoteAddr != nil {
			u.answerUnparsable(data, props.RemoteAddr, err)
		}
		return nil, nil
	}
	return data, nil
}

// looksLikeSIP is a cheap test of a datagram's first line: a response
// ("SIP/2.0 200 OK") or a request of at least three words whose last
// names a SIP version ("INVITE sip:x SIP/2.0"; extra spaces and other
// versions are answered 400 and 505, not dropped as junk).
func looksLikeSIP(data []byte) bool {
	const maxLine = 8 << 10
	i := bytes.IndexByte(data, '\n')
	if i < 0 || i > maxLine {
		return false // no header section at all, or no line a SIP element would send
	}
	line := bytes.TrimRight(data[:i], "\r")
	if bytes.HasPrefix(line, []byte("SIP/")) {
		return true
	}
	words := bytes.Fields(line)
	return len(words) >= 3 && bytes.HasPrefix(words[len(words)-1], []byte("SIP/"))
}

// sipgoLogHandler is the log handler given to sipgo's transport and
// transaction layers: parse failures are counted and logged at most once
// a minute, truncated; any other line is logged at most once a minute per
// message, ERROR lowered to WARN (sipgo's errors are about what peers
// sent, not about us), so a flood cannot flood the log.
type sipgoLogHandler struct {
	next   func() slog.Handler
	parse  func() // counts a parse failure
	limits *limitedLog
	attrs  []slog.Attr
	group  string
}

func (h *sipgoLogHandler) handler() slog.Handler {
	n := h.next()
	if h.group != "" {
		n = n.WithGroup(h.group)
	}
	if len(h.attrs) > 0 {
		n = n.WithAttrs(h.attrs)
	}
	return n
}

func (h *sipgoLogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next().Enabled(ctx, min(l, slog.LevelWarn))
}

func (h *sipgoLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "failed to parse" {
		h.parse()
		if !h.limits.allow("parse") {
			return nil
		}
		out := slog.NewRecord(r.Time, slog.LevelWarn, "sip: could not parse a message", r.PC)
		r.Attrs(func(a slog.Attr) bool {
			out.AddAttrs(slog.String(a.Key, truncate(a.Value.String(), 120)))
			return true
		})
		return h.handler().Handle(ctx, out)
	}
	if r.Level >= slog.LevelInfo && !h.limits.allow("sipgo:"+r.Message) {
		return nil // what peers do is logged once a minute per kind, at most
	}
	if r.Level > slog.LevelWarn {
		r = r.Clone()
		r.Level = slog.LevelWarn
	}
	return h.handler().Handle(ctx, r)
}

func (h *sipgoLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *sipgoLogHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.group = name
	return &c
}

// sipgo's TCP, TLS and WebSocket transports log through sip.DefaultLogger
// (a process-wide setting: their logger field is not exported), so their
// parse failures are counted process-wide and logged through slog's
// default logger, rate-limited the same way. It is installed once, before
// the first user agent exists.
var (
	defaultLogOnce    sync.Once
	streamParseErrors atomic.Uint64
	defaultLogLimiter = newLimitedLog(nil, time.Minute)
)

func installDefaultSIPLog() {
	defaultLogOnce.Do(func() {
		// sipgo refuses to send any UDP message over 1300 bytes; a
		// response must go out whatever its size (RFC 3261 §18.2.2 has no
		// such limit, and 65,507 bytes is what UDP carries). Requests we
		// send stay small.
		sip.UDPMTUSize = 65507 + 200
		sip.SetDefaultLogger(slog.New(&sipgoLogHandler{
			next:   func() slog.Handler { return slog.Default().Handler() },
			parse:  func() { streamParseErrors.Add(1) },
			limits: defaultLogLimiter,
		}))
	})
}
