package sipua

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/presence"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// notifyTimeout bounds one NOTIFY's wait for its answer: no answer in
// that time ends the subscription (as a 408 does, RFC 6665 §4.2.2).
const notifyTimeout = 10 * time.Second

// finalNotifyTimeout bounds the last NOTIFY sent as the UA shuts down.
const finalNotifyTimeout = time.Second

// subscription is one phone's subscription to one user's dialogs. Its
// actor (run) owns the dialog's CSeq and the document version and sends
// every NOTIFY, in order, one at a time; presence changes and refreshes
// reach it through pending and wake. Full state is sent each time, so
// changes that arrive while a NOTIFY is out are folded into the next.
type subscription struct {
	ua      *UA
	key     string
	owner   ident.UserID // the subscriber
	target  ident.UserID // the user watched
	eventID string
	entity  string // the watched AOR

	// The dialog, as the notifier (RFC 3261 §12.1.1 from our 200).
	callID   string
	local    sip.FromHeader // the SUBSCRIBE's To, with our tag
	remote   sip.ToHeader   // the SUBSCRIBE's From
	contact  sip.Uri        // the SUBSCRIBE's Contact: our NOTIFYs' Request-URI
	routes   []string       // its Record-Route values, in order
	firstHop string         // the first route's host:port, or ""
	cseq     uint32         // actor-owned
	version  int            // actor-owned

	mu        sync.Mutex
	source    string        // where the latest SUBSCRIBE came from: the flow NOTIFYs take
	transport string        // and on what
	pending   subPending    // what the actor has yet to act on
	over      bool          // the actor has ended or is ending
	wake      chan struct{} // 1-buffered: pending changed
	deadline  time.Time
}

// subPending is what happened since the actor last looked.
type subPending struct {
	state     *presence.State
	refreshed bool
	end       string // a final NOTIFY's reason ("timeout"), "-" to end silently
}

func newSubscription(u *UA, req *sip.Request, owner, watched *store.User, eventID, localTag string, expires time.Duration) *subscription {
	from, to := req.From(), req.To()
	s := &subscription{ua: u, owner: owner.ID, target: watched.ID, eventID: eventID,
		entity: "sip:" + req.Recipient.User + "@" + u.host(),
		callID: req.CallID().Value(), remote: from.AsTo(), local: to.AsFrom(), contact: req.Contact().Address,
		transport: strings.ToUpper(req.Transport()), cseq: 1, source: req.Source(), wake: make(chan struct{}, 1),
		deadline: time.Now().Add(expires)}
	s.local.Params = s.local.Params.Clone()
	s.local.Params.Add("tag", localTag)
	remoteTag, _ := from.Params.Get("tag")
	s.key = subKey(s.callID, remoteTag, localTag)
	for _, h := range req.GetHeaders("Record-Route") {
		s.routes = append(s.routes, h.Value())
		if rr, ok := h.(*sip.RecordRouteHeader); ok && s.firstHop == "" {
			s.firstHop = rr.Address.HostPort()
		}
	}
	return s
}

// sameFlow reports whether o came from the same phone as s: the same
// transport and source address, or the same Contact (a TCP or TLS phone
// that reconnects comes from a new port but keeps its Contact).
func (s *subscription) sameFlow(o *subscription) bool {
	src, tp := s.flowSource()
	osrc, otp := o.flowSource()
	if tp != otp {
		return false
	}
	return src == osrc || s.contact.String() == o.contact.String()
}

// flowSource is where the subscriber's latest SUBSCRIBE came from, and
// over what transport.
func (s *subscription) flowSource() (string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.source, s.transport
}

// flow reports whether an in-dialog SUBSCRIBE from src may be the
// subscriber's: from the same host (a phone may open a new TCP
// connection), as for calls (sameHost).
func (s *subscription) flow(src string) bool {
	cur, _ := s.flowSource()
	return host(src) == host(cur)
}

// changed is the presence source's callback: it never blocks.
func (s *subscription) changed(st presence.State) {
	s.mu.Lock()
	s.pending.state = &st
	s.mu.Unlock()
	s.poke()
}

func (s *subscription) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// refresh extends the subscription by expires from now (0 ends it) for a
// SUBSCRIBE that came from src over transport; false when it has already
// ended. Later NOTIFYs take that flow (a phone that reconnected, or sent
// the refresh to our Contact over another transport). The caller pokes
// the actor once the SUBSCRIBE is answered, so that the 200 goes first.
func (s *subscription) refresh(expires time.Duration, src, transport string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.over {
		return false
	}
	s.source, s.transport = src, strings.ToUpper(transport)
	if expires == 0 {
		s.pending.end, s.over = "timeout", true // RFC 6665 §4.2.1.4: a final NOTIFY
	} else {
		s.deadline, s.pending.refreshed = time.Now().Add(expires), true
	}
	return true
}

// supersede ends the subscription without a NOTIFY: the phone that held
// it has subscribed again. It never blocks (the table's lock is held).
func (s *subscription) supersede() {
	s.mu.Lock()
	s.pending.end, s.over = "-", true
	s.mu.Unlock()
	s.poke()
}

// take returns and clears what is pending.
func (s *subscription) take() subPending {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pending
	s.pending = subPending{}
	return p
}

// run is the subscription's actor: the first NOTIFY with current, one on
// each change or refresh, and the final one when it ends (expiry,
// unsubscribe, shutdown). A NOTIFY answered 481 or 408, or not at all,
// ends it without another. cancel stops the presence watch.
func (s *subscription) run(current presence.State, cancel func()) {
	t := s.ua.subs
	defer t.wg.Done()
	defer t.remove(s)
	defer cancel()
	state := current
	timer := time.NewTimer(time.Until(s.expiry()))
	defer timer.Stop()
	if !s.send(state, "") {
		s.failed(state)
		return
	}
	for {
		select {
		case <-s.wake:
		case <-timer.C:
			if d := time.Until(s.expiry()); d > 0 { // refreshed meanwhile
				timer.Reset(d)
				break
			}
			s.end(state, "timeout")
			return
		case <-t.ctx.Done():
			s.end(state, "deactivated") // RFC 6665 §4.1.3: subscribe again
			return
		}
		p := s.take()
		if p.state != nil {
			state = *p.state
		}
		switch {
		case p.end == "-":
			return
		case p.end != "":
			s.end(state, p.end)
			return
		case p.refreshed:
			timer.Reset(time.Until(s.expiry()))
		case p.state == nil:
			continue
		}
		if !s.send(state, "") {
			s.failed(state)
			return
		}
	}
}

// fetch sends a fetch's one NOTIFY (UA.fetch).
func (s *subscription) fetch(current presence.State) {
	defer s.ua.subs.wg.Done()
	s.end(current, "timeout")
}

// failed ends a subscription whose NOTIFY failed: silently, unless the
// failure was the UA shutting down.
func (s *subscription) failed(state presence.State) {
	if s.ua.subs.ctx.Err() != nil {
		s.end(state, "deactivated")
	}
}

func (s *subscription) expiry() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deadline
}

// end sends the final NOTIFY (Subscription-State: terminated with reason).
func (s *subscription) end(state presence.State, reason string) {
	s.mu.Lock()
	s.over = true
	s.mu.Unlock()
	s.send(state, reason)
}

// send sends one NOTIFY with state, active or (reason set) terminated,
// and reports whether the subscription lives on: false for a 481 or 408
// answer, no answer in time, or a transport failure (RFC 6665 §4.2.2).
func (s *subscription) send(state presence.State, reason string) bool {
	subState := "active;expires=" + strconv.Itoa(max(1, int(time.Until(s.expiry()).Round(time.Second).Seconds())))
	ctx, timeout := s.ua.subs.ctx, notifyTimeout
	if reason != "" {
		subState = "terminated;reason=" + reason
		if ctx.Err() != nil { // shutting down: one brief try
			ctx, timeout = context.Background(), finalNotifyTimeout
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req := s.notifyRequest(dialogInfoBody(state, s.version, s.entity, s.ua.host()), subState)
	s.version++
	res, err := s.ua.client.Do(dialOut(ctx), req)
	switch {
	case err != nil:
		s.ua.log.Debug("sip: notify", "call_id", s.callID, "err", err)
		return false
	case res.StatusCode == 481 || res.StatusCode == 408:
		s.ua.log.Debug("sip: notify refused, subscription ends", "call_id", s.callID, "status", res.StatusCode)
		return false
	case res.StatusCode >= 300:
		dst, _ := s.flowSource()
		s.ua.logs.limited("notify:"+host(dst), "sip: notify refused", "status", res.StatusCode, "dst", dst)
	}
	return true
}

// notifyRequest builds the next NOTIFY in the dialog (RFC 3261 §12.2.1.1:
// the remote target, the route set, our CSeq), sent over the
// subscriber's flow: to the address its last SUBSCRIBE came from, on its
// transport (a TCP, TLS or WebSocket connection is reused), or to the
// first route when there is a route set.
func (s *subscription) notifyRequest(body []byte, subState string) *sip.Request {
	req := sip.NewRequest(sip.NOTIFY, *s.contact.Clone())
	from, to := s.local, s.remote
	from.Params, to.Params = from.Params.Clone(), to.Params.Clone()
	callID := sip.CallIDHeader(s.callID)
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: s.cseq, MethodName: sip.NOTIFY})
	req.AppendHeader(&maxFwd)
	s.cseq++
	for _, r := range s.routes {
		req.AppendHeader(sip.NewHeader("Route", r))
	}
	req.AppendHeader(sip.HeaderClone(&s.ua.contact))
	event := eventDialog
	if s.eventID != "" {
		id := s.eventID
		if !isToken(id) {
			id = `"` + id + `"` // parseEvent admitted printable ASCII without quotes or backslashes
		}
		event += ";id=" + id
	}
	req.AppendHeader(sip.NewHeader("Event", event))
	req.AppendHeader(sip.NewHeader("Subscription-State", subState))
	req.AppendHeader(sip.NewHeader("Content-Type", dialogInfoType))
	req.SetBody(body)
	dst, transport := s.flowSource()
	req.SetTransport(transport)
	if s.firstHop != "" {
		dst = s.firstHop
	}
	req.SetDestination(dst)
	return req
}
