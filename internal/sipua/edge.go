package sipua

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// The edge proxy (docs/adr/0010-sip-edge-proxy.md). In a cluster, a phone
// registered here over TCP, TLS or WebSocket is reached only over its
// connection. The node that owns a call rings it by sending the INVITE
// here over UDP with a preloaded Route naming this node and the binding's
// flow token (EdgeRoute). This node then proxies the request statefully
// onto the phone's connection (RFC 3261 §16), Record-Routing itself twice
// (RFC 5658: one entry per side, each carrying the token), so that every
// later request of the dialog, from either end, passes through here too.
//
// It is no open relay: a request whose top Route is this node with a flow
// token is proxied only
//   - from a live peer's SIP address, to the flow the token names (the
//     token must name a live binding of this node: 430 Flow Failed
//     otherwise, RFC 5626 §5.3), and no further Route;
//   - from the phone of that flow (same transport and host), in a dialog
//     this node Record-Routed for that flow (edgedialog.go: Call-ID and
//     tags), to a live peer's SIP address.
//
// Anything else is refused 403. Requests without such a Route are this
// node's own, as before.

// edgeTimeout bounds a proxied request's wait for a connection.
const edgeTimeout = 10 * time.Second

// SetEdgePeers turns the edge proxy on (in a cluster, before Start): peer
// reports whether a host:port is a live peer node's SIP address. It must
// not block long: it runs on SIP handlers.
func (u *UA) SetEdgePeers(peer func(addr string) bool) {
	u.edgePeer = peer
	if u.edgeDlg == nil {
		u.edgeDlg = newEdgeDialogs()
	}
}

// edgeRouted reports whether req's top Route names this node with a flow
// token: a request for the edge proxy.
func (u *UA) edgeRouted(req *sip.Request) bool {
	if u.edgePeer == nil || req.Method == sip.CANCEL || req.Method == sip.REGISTER {
		return false // a CANCEL matching a proxied INVITE never gets here (sipgo)
	}
	h := req.GetHeader("route")
	if h == nil {
		return false
	}
	uri, err := parseRouteURI(splitRouteList(h.Value())[0])
	return err == nil && u.isSelf(uri) && uri.UriParams.Has(flowParam)
}

// isSelf reports whether uri names one of this node's SIP listeners.
func (u *UA) isSelf(uri sip.Uri) bool {
	port := uri.Port
	if port == 0 {
		port = 5060
		if strings.EqualFold(uri.Scheme, "sips") {
			port = 5061
		}
	}
	addr := net.JoinHostPort(uri.Host, strconv.Itoa(port))
	return addr == u.Addr() || addr == u.TLSAddr()
}

// edgeHop is a request to forward and where it came from.
type edgeHop struct {
	out     *sip.Request
	toPhone bool   // from a peer to the phone (else from the phone to a peer)
	tok     string // the flow's token
	initial bool   // an initial INVITE to the phone: a dialog to remember (edgedialog.go)
}

// edgeForward checks a request routed through this node and builds the
// request to forward, or says how to refuse it.
func (u *UA) edgeForward(req *sip.Request) (*edgeHop, *rejection) {
	var values []string
	for _, h := range req.GetHeaders("route") {
		values = append(values, h.Value())
	}
	routes, err := parseRouteSet(values)
	if err != nil || len(routes) == 0 {
		return nil, &rejection{status: 400, reason: "Bad Route Header"}
	}
	tok, _ := routes[0].UriParams.Get(flowParam)
	c, found := u.flowByToken(tok)
	src := req.Source()
	fromFlow := found && strings.EqualFold(req.Transport(), c.Transport) && host(src) == host(c.Source)
	fromPeer := !fromFlow && u.edgePeer(src)
	switch {
	case !fromFlow && !fromPeer:
		return nil, &rejection{status: 403, reason: "Forbidden (not a cluster peer)"}
	case !found:
		return nil, &rejection{status: 430, reason: "Flow Failed"}
	}
	for len(routes) > 0 && u.isSelf(routes[0]) { // ours, once or twice (RFC 5658)
		routes = routes[1:]
	}
	toTag, _ := req.To().Params.Get("tag")
	out := req.Clone()
	removeHeaders(out, "Route")
	for i := range routes {
		out.AppendHeader(&sip.RouteHeader{Address: routes[i]})
	}
	if rej := decMaxForwards(out); rej != nil {
		return nil, rej
	}
	if fromPeer {
		if len(routes) > 0 {
			return nil, &rejection{status: 403, reason: "Forbidden (no route beyond the flow)"}
		}
		out.SetDestination(c.Source)
		out.SetTransport(strings.ToUpper(c.Transport))
		out.Laddr = sip.Addr{}
		initial := toTag == "" && req.Method == sip.INVITE
		if initial {
			u.recordRoute(out, tok, c.Transport)
		} else if toTag != "" {
			u.edgeDlg.touch(tok, req.CallID().Value())
		}
		return &edgeHop{out: out, toPhone: true, tok: tok, initial: initial}, nil
	}
	if toTag == "" {
		return nil, &rejection{status: 403, reason: "Forbidden (only in-dialog requests leave a flow)"}
	}
	fromTag, _ := req.From().Params.Get("tag")
	if !u.edgeDlg.allows(tok, req.CallID().Value(), fromTag, toTag) {
		return nil, &rejection{status: 403, reason: "Forbidden (not a dialog of this flow)"}
	}
	next := out.Recipient
	if len(routes) > 0 {
		next = routes[0]
	}
	port := next.Port
	if port == 0 {
		port = 5060
	}
	addr := net.JoinHostPort(next.Host, strconv.Itoa(port))
	if !u.edgePeer(addr) {
		return nil, &rejection{status: 403, reason: "Forbidden (not to a cluster peer)"}
	}
	out.SetDestination(addr)
	out.SetTransport("UDP")
	out.Laddr = u.udpLaddr()
	return &edgeHop{out: out, tok: tok}, nil
}

// decMaxForwards takes one hop off out's Max-Forwards (RFC 3261 §16.6
// step 3), refusing a request that has none left.
func decMaxForwards(out *sip.Request) *rejection {
	mf := sip.MaxForwardsHeader(70)
	if h := out.MaxForwards(); h != nil {
		mf = *h
	}
	if mf <= 0 && out.Method != sip.ACK {
		return &rejection{status: 483, reason: "Too Many Hops"}
	}
	if mf > 0 {
		mf--
	}
	removeHeaders(out, "Max-Forwards")
	out.AppendHeader(&mf)
	return nil
}

// recordRoute puts this node twice in the dialog's route set (RFC 5658):
// the entry the phone uses on top (its transport, the listener it is
// connected to), the one the owner uses below (UDP); both carry the token.
func (u *UA) recordRoute(out *sip.Request, tok, transport string) {
	mk := func(addr, transport string) *sip.RecordRouteHeader {
		h, p, _ := net.SplitHostPort(addr)
		port, _ := strconv.Atoi(p)
		uri := sip.Uri{Scheme: "sip", Host: h, Port: port, UriParams: sip.NewParams()}
		if transport != "" {
			uri.UriParams.Add("transport", transport)
		}
		uri.UriParams.Add("lr", "")
		uri.UriParams.Add(flowParam, tok)
		return &sip.RecordRouteHeader{Address: uri}
	}
	out.PrependHeader(mk(u.Addr(), ""))
	flowAddr := u.Addr()
	if strings.EqualFold(transport, "tls") && u.TLSAddr() != "" {
		flowAddr = u.TLSAddr()
	}
	out.PrependHeader(mk(flowAddr, strings.ToLower(transport)))
}

// udpLaddr is the UDP listener's address: requests to peers leave from
// it, the address they know this node by.
func (u *UA) udpLaddr() sip.Addr {
	a, ok := u.udp.LocalAddr().(*net.UDPAddr)
	if !ok {
		return sip.Addr{}
	}
	return sip.Addr{IP: a.IP, Port: a.Port}
}

// removeHeaders removes every header called name (any case).
func removeHeaders(req *sip.Request, name string) {
	for _, h := range req.GetHeaders(name) {
		req.RemoveHeader(h.Name())
	}
}

// proxy forwards a request routed through this node and relays its
// responses (the guard has checked it; r answers it).
func (u *UA) proxy(r *responder) {
	hop, rej := u.edgeForward(r.req)
	if rej != nil {
		u.edgeRefused(r.req, rej)
		r.respond(rej.status, rej.reason, nil)
		return
	}
	if hop.initial {
		peerTag, _ := hop.out.From().Params.Get("tag")
		u.edgeDlg.add(hop.tok, hop.out.CallID().Value(), peerTag)
	}
	var final *sip.Response
	defer func() { u.edgeSettled(hop, final) }()
	ctx, cancel := context.WithTimeout(context.Background(), edgeTimeout)
	defer cancel()
	// No dialOut: a phone's connection that is gone is not re-opened.
	tx, err := u.client.TransactionRequest(ctx, hop.out, sipgo.ClientRequestAddVia)
	if err != nil {
		u.log.Debug("sip: edge: forward", "err", err, "to", hop.out.Destination())
		if hop.toPhone {
			r.respond(430, "Flow Failed", nil)
		} else {
			r.respond(503, "Service Unavailable", nil)
		}
		return
	}
	if hop.out.IsInvite() {
		// 2xx retransmissions (the phone's, until our peer's ACK reaches
		// it) go upstream too, statelessly (RFC 3261 §16.7 step 10).
		tx.OnRetransmission(func(res *sip.Response) {
			if out, ok := relayed(res, r.req); ok && res.IsSuccess() {
				_ = r.tx.Respond(out)
			}
		})
		cancelled := make(chan struct{})
		var once sync.Once
		cancel := func(*sip.Request) {
			once.Do(func() {
				r.final.Store(true) // sipgo has answered 487 upstream
				close(cancelled)
				u.goTracked(func() { u.edgeCancel(hop.out) })
			})
		}
		if !r.tx.OnCancel(cancel) {
			cancel(nil) // the CANCEL came before the forward: cancel it downstream too
		}
		final = u.relayInvite(r, tx, hop.out, cancelled)
		return
	}
	final = u.relayResponses(r, tx, false)
}

// Timer C (RFC 3261 §16.6 step 11, §16.8): a proxied INVITE whose phone
// sends provisional responses but no final one is given up after
// edgeTimerC from the last of them, or edgeCancelWait after a CANCEL.
// (Variables for tests.)
var (
	edgeTimerC     = 3 * time.Minute
	edgeCancelWait = 32 * time.Second
)

// relayInvite is relayResponses for an INVITE, with Timer C: on expiry
// the INVITE is cancelled downstream and answered 408 upstream (unless a
// CANCEL answered it already).
func (u *UA) relayInvite(r *responder, tx sip.ClientTransaction, inv *sip.Request, cancelled <-chan struct{}) *sip.Response {
	timerC := time.NewTimer(edgeTimerC)
	defer timerC.Stop()
	for {
		select {
		case res := <-tx.Responses():
			if final := u.relayOne(r, tx, res, true); final != nil {
				return final
			}
			if !r.final.Load() {
				timerC.Reset(edgeTimerC)
			}
		case <-tx.Done():
			if !r.final.Load() {
				r.respond(408, "Request Timeout", nil)
			}
			return nil
		case <-cancelled:
			cancelled = nil
			timerC.Reset(edgeCancelWait)
		case <-timerC.C:
			if !r.final.Load() {
				u.goTracked(func() { u.edgeCancel(inv) })
				r.respond(408, "Request Timeout", nil)
			}
			tx.Terminate()
			return nil
		}
	}
}

// relayResponses passes the forwarded request's responses back, without
// our Via (RFC 3261 §16.7), until the final one, which it returns (nil:
// none came).
func (u *UA) relayResponses(r *responder, tx sip.ClientTransaction, invite bool) *sip.Response {
	for {
		select {
		case res := <-tx.Responses():
			if final := u.relayOne(r, tx, res, invite); final != nil {
				return final
			}
		case <-tx.Done():
			if !r.final.Load() {
				r.respond(408, "Request Timeout", nil)
			}
			return nil
		}
	}
}

// relayOne passes one response back; it returns it if it was the final
// one (the relay is over), else nil.
func (u *UA) relayOne(r *responder, tx sip.ClientTransaction, res *sip.Response, invite bool) *sip.Response {
	if res.StatusCode == 100 {
		return nil // hop by hop: sipgo sends our own (RFC 3261 §16.7 step 5)
	}
	out, ok := relayed(res, r.req)
	if !ok {
		u.log.Debug("sip: edge: response for another transaction dropped", "status", res.StatusCode)
		return nil
	}
	if err := r.tx.Respond(out); err != nil && !r.final.Load() {
		r.ua.writeFailed(r.req, out.StatusCode, err)
	}
	if out.StatusCode < 200 {
		return nil
	}
	if !r.final.Swap(true) {
		u.metrics.responded(r.req, out.StatusCode)
	}
	if !invite || out.StatusCode >= 300 {
		tx.Terminate()
	}
	return res
}

// relayed is res as the edge passes it back to the sender of req: every
// header but our Via (RFC 3261 §16.7 step 3), over the request's
// transport, to where req came from. The Vias below ours are the phone's
// to write, so they choose nothing: a response whose next Via is not
// req's own (its branch) is not relayed (ok false), and the destination
// is req's source, never what a Via's received or rport says.
func relayed(res *sip.Response, req *sip.Request) (*sip.Response, bool) {
	out := sip.NewResponse(res.StatusCode, res.Reason)
	ours := true
	for _, h := range res.Headers() {
		if ours && strings.EqualFold(h.Name(), "via") {
			ours = false
			continue
		}
		out.AppendHeader(sip.HeaderClone(h))
	}
	if !sameBranch(out.Via(), req.Via()) {
		return nil, false
	}
	out.SetBody(res.Body())
	out.SetTransport(req.Transport())
	out.SetDestination(req.Source())
	return out, true
}

// sameBranch says whether two Vias carry the same branch.
func sameBranch(a, b *sip.ViaHeader) bool {
	if a == nil || b == nil || a.Params == nil || b.Params == nil {
		return false
	}
	ab, _ := a.Params.Get("branch")
	bb, _ := b.Params.Get("branch")
	return ab != "" && ab == bb
}

// edgeCancel cancels a proxied INVITE downstream (RFC 3261 §16.10): the
// same Request-URI, top Via, Call-ID, From, To, CSeq number and Route.
func (u *UA) edgeCancel(inv *sip.Request) {
	req := sip.NewRequest(sip.CANCEL, inv.Recipient)
	req.AppendHeader(sip.HeaderClone(inv.Via()))
	req.AppendHeader(sip.HeaderClone(inv.From()))
	req.AppendHeader(sip.HeaderClone(inv.To()))
	req.AppendHeader(sip.HeaderClone(inv.CallID()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	for _, h := range inv.GetHeaders("route") {
		req.AppendHeader(sip.HeaderClone(h))
	}
	req.SetDestination(inv.Destination())
	req.SetTransport(inv.Transport())
	req.Laddr = inv.Laddr
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := u.client.Do(ctx, req); err != nil {
		u.log.Debug("sip: edge: cancel", "err", err)
	}
}

// proxyAck forwards an ACK routed through this node (an ACK of a 2xx is
// end to end, RFC 3261 §13.2.2.4): statelessly, never answered.
func (u *UA) proxyAck(req *sip.Request) {
	hop, rej := u.edgeForward(req)
	if rej != nil {
		u.edgeRefused(req, rej)
		return
	}
	if err := u.client.WriteRequest(hop.out, sipgo.ClientRequestAddVia); err != nil {
		u.log.Debug("sip: edge: forward ack", "err", err)
	}
}

func (u *UA) edgeRefused(req *sip.Request, rej *rejection) {
	u.metrics.rejected(rej.status)
	u.logs.limited("edge:"+host(req.Source()), "sip: edge: request refused", "method", req.Method.String(),
		"status", rej.status, "reason", rej.reason, "src", req.Source())
}
