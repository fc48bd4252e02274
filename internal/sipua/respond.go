package sipua

import (
	"log/slog"
	"sync/atomic"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// responder wraps a server transaction and remembers whether a final
// response went out.
type responder struct {
	tx    sip.ServerTransaction
	req   *sip.Request
	final atomic.Bool
}

// respond sends status with the given extra headers.
func (r *responder) respond(status int, reason string, body []byte, headers ...sip.Header) {
	res := sip.NewResponseFromRequest(r.req, status, reason, body)
	for _, h := range headers {
		res.AppendHeader(h)
	}
	if status >= 200 {
		r.final.Store(true)
	}
	_ = r.tx.Respond(res)
}

// handler is a SIP request handler that answers through a responder.
type handler func(r *responder)

// guard makes every transaction end with a final response: a handler that
// returns (or panics) without one answers 500 (RFC 3261 §8.2: every request
// gets a final response). Missed finals leak transactions in sipgo.
func guard(log *slog.Logger, h handler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		r := &responder{tx: tx, req: req}
		defer func() {
			if p := recover(); p != nil {
				log.Error("sip handler panic", "method", req.Method, "panic", p)
			}
			if !r.final.Load() {
				r.respond(500, "Server Internal Error", nil)
			}
		}()
		h(r)
	}
}
