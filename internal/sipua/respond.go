package sipua

import (
	"sync/atomic"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// responder wraps a server transaction and remembers whether a final
// response went out.
type responder struct {
	ua    *UA
	tx    sip.ServerTransaction
	req   *sip.Request
	final atomic.Bool
}

// respond sends status with the given extra headers through the
// transaction (which retransmits a final INVITE response until ACKed).
func (r *responder) respond(status int, reason string, body []byte, headers ...sip.Header) {
	res := r.response(status, reason, body, headers...)
	if status >= 200 {
		r.final.Store(true)
		r.ua.metrics.responded(r.req, status)
	}
	if err := r.tx.Respond(res); err != nil {
		r.ua.writeFailed(r.req, status, err)
	}
}

// respondStateless sends a final response once, outside the transaction,
// and ends the transaction: it is never retransmitted. Challenges go this
// way (as Kamailio and OpenSIPS send them), so an unauthenticated INVITE
// from a forged source costs one packet, not eleven over 32 s.
func (r *responder) respondStateless(status int, reason string, headers ...sip.Header) {
	res := r.response(status, reason, nil, headers...)
	r.final.Store(true)
	r.ua.metrics.responded(r.req, status)
	c, ok := r.tx.(interface{ Connection() sip.Connection })
	if !ok || c.Connection() == nil {
		if err := r.tx.Respond(res); err != nil {
			r.ua.writeFailed(r.req, status, err)
		}
		return
	}
	conn := c.Connection() // the flow the request came on
	// The transaction ends before the answer leaves, so that the sender's
	// next request, even one reusing this branch, is a new transaction.
	r.tx.Terminate()
	if err := conn.WriteMsg(res); err != nil {
		r.ua.writeFailed(r.req, status, err)
	}
}

func (r *responder) response(status int, reason string, body []byte, headers ...sip.Header) *sip.Response {
	res := sip.NewResponseFromRequest(r.req, status, reason, body)
	res.SipVersion = "SIP/2.0" // not a copy of a request's unknown version (505)
	for _, h := range headers {
		res.AppendHeader(h)
	}
	if status == 405 || status == 200 && r.req.Method == sip.OPTIONS {
		res.AppendHeader(sip.NewHeader("Allow", allowMethods))
	}
	return res
}

// handler is a SIP request handler that answers through a responder.
type handler func(r *responder)

// guard is the one entry for every request but ACK. It checks the request
// (checkRequest), then makes the transaction end with a final response: a
// handler that returns (or panics) without one answers 500 (RFC 3261
// §8.2: every request gets a final response). Missed finals leak
// transactions in sipgo.
func (u *UA) guard(h handler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		r := &responder{ua: u, tx: tx, req: req}
		defer func() {
			if p := recover(); p != nil {
				u.log.Error("sip handler panic", "method", req.Method, "panic", p)
			}
			if !r.final.Load() {
				r.respond(500, "Server Internal Error", nil)
			}
		}()
		u.metrics.request(req)
		if rej := checkRequest(req); rej != nil {
			u.metrics.rejected(rej.status)
			u.logs.limited(host(req.Source()), "sip: request refused", "method", req.Method.String(),
				"status", rej.status, "reason", rej.reason, "src", req.Source())
			r.respond(rej.status, rej.reason, nil, rej.headers...)
			return
		}
		if u.edgeRouted(req) {
			u.proxy(r) // for a phone on this node's flow, or from it (edge.go)
			return
		}
		h(r)
	}
}

// guardAck is guard for ACK, which is never answered: a malformed ACK is
// dropped, and a panic is recovered like any handler's.
func (u *UA) guardAck(h func(req *sip.Request, tx sip.ServerTransaction)) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		defer func() {
			if p := recover(); p != nil {
				u.log.Error("sip ack handler panic", "panic", p)
			}
		}()
		u.metrics.request(req)
		if rej := checkRequest(req); rej != nil {
			u.metrics.rejected(0)
			return
		}
		if u.edgeRouted(req) {
			u.proxyAck(req)
			return
		}
		h(req, tx)
	}
}

// writeFailed reports a response that could not be sent: counted, and
// logged at most once a minute per source.
func (u *UA) writeFailed(req *sip.Request, status int, err error) {
	u.metrics.writeError()
	u.logs.limited(host(req.Source()), "sip: response not sent", "method", req.Method.String(), "status", status,
		"dst", req.Source(), "err", err)
}
