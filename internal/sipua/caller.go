package sipua

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/media"
	"github.com/switchboard-voice/switchboard/internal/route"
)

// Placer starts calls (the call manager).
type Placer interface {
	Place(party call.Party, p call.Placement) (call.Remote, ident.CallID, error)
}

// caller is a registered phone that sent us an INVITE (UAS side). The
// INVITE handler waits on it for the call's outcome.
type caller struct {
	ua     *UA
	dialog *sipgo.DialogServerSession
	key    string
	remote call.Remote

	mu       sync.Mutex
	answer   string
	outcome  chan int // final status for the INVITE: 200 or a failure
	answered bool
	ended    bool
	refused  bool
	denied   bool // the dial plan does not allow the call: 403
	refer    *referNotifier
	hungUp   farBye

	watch rtpWatch
	flow  func(src string) bool // whether an in-dialog request's source is the caller's
}

// matches implements dialogParty: our To tag, the phone's From tag, and the
// phone's address.
func (p *caller) matches(req *sip.Request) bool {
	id, err := sip.DialogIDFromRequestUAS(req)
	return err == nil && id == p.dialog.ID && p.flow(req.Source())
}

// sameHost is the flow check of a party reached at addr: requests in its
// dialog come from the same IP address (the port may differ, as phones
// open new TCP connections).
func sameHost(addr string) func(string) bool {
	h := host(addr)
	return func(src string) bool { return host(src) == h }
}

func (p *caller) notifier() *referNotifier {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refer == nil {
		p.refer = &referNotifier{send: func(ctx context.Context, req *sip.Request) error {
			inv := p.dialog.InviteRequest
			c := inv.Contact()
			if c == nil {
				return errors.New("no contact to send to")
			}
			req.Recipient = c.Address
			req.SetTransport(inv.Transport())
			_, err := p.dialog.Do(dialOut(ctx), req)
			return err
		}}
	}
	return p.refer
}

// waitNotifies lets a REFER's last NOTIFY go out before the BYE.
func (p *caller) waitNotifies() {
	p.mu.Lock()
	n := p.refer
	p.mu.Unlock()
	if n != nil {
		n.wait()
	}
}

func (p *caller) Key() string  { return p.key }
func (p *caller) Kind() string { return "sip" }
func (p *caller) NewMedia(m call.Media, id ident.LegID) (call.LegMedia, error) {
	tp := p.dialog.InviteRequest.Transport()
	lm, err := sipMedia(&p.watch, tp, m, id)
	p.ua.srtpPolicy(lm, tp)
	return lm, err
}

// srtpLeg is RTP media that can do SDES-SRTP (media.RTPEndpoint).
type srtpLeg interface {
	SetSRTP(offer, require bool)
	SRTPRefused() bool
}

// srtpPolicy secures a TLS phone's RTP media: SRTP is offered (SDES keys
// travel in the SDP, RFC 4568 §8.3, so only over TLS), and required with
// sip.tls_require_srtp. Other transports keep plain RTP offers; SRTP
// offers are answered on any transport.
func (u *UA) srtpPolicy(lm call.LegMedia, transport string) {
	if s, ok := lm.(srtpLeg); ok && strings.EqualFold(transport, "tls") {
		s.SetSRTP(true, u.Registrar.cfg.TLSRequireSRTP)
	}
}

// srtpRefused reports whether the caller's offer was refused for want of
// SRTP (sip.tls_require_srtp).
func (p *caller) srtpRefused() bool {
	p.watch.mu.Lock()
	defer p.watch.mu.Unlock()
	s, ok := p.watch.media.(srtpLeg)
	return ok && s.SRTPRefused()
}
func (p *caller) Answer(sdp string) {
	p.mu.Lock()
	p.answer = sdp
	p.mu.Unlock()
}
func (p *caller) Ringing() {
	if err := p.dialog.Respond(180, "Ringing", nil); err != nil {
		p.ua.writeFailed(p.dialog.InviteRequest, 180, err)
	}
}
func (p *caller) Answered(time.Time) {
	p.finish(200)
}
func (p *caller) Refused(r call.Refusal) {
	if r.Code == call.CodeInvalid {
		p.mu.Lock()
		p.refused = true // the offer was unusable: 488 rather than a routing failure
		p.mu.Unlock()
	}
}

// Forbidden implements call.Forbiddable: the caller may not make this call.
func (p *caller) Forbidden() {
	p.mu.Lock()
	p.denied = true
	p.mu.Unlock()
}

// endStatus is the final response for a call that ends before the answer.
var endStatus = map[call.EndReason]int{
	call.EndBusy: 486, call.EndRejected: 603, call.EndNoAnswer: 480,
	call.EndFailed: 404, call.EndHangup: 487,
}

var statusText = map[int]string{200: "OK", 403: "Forbidden", 486: "Busy Here", 603: "Decline", 480: "Temporarily Unavailable",
	404: "Not Found", 487: "Request Terminated", 488: "Not Acceptable Here", 500: "Server Internal Error"}

func (p *caller) Ended(reason call.EndReason, _ *int) {
	p.mu.Lock()
	answered, refused, denied := p.answered, p.refused, p.denied
	p.ended = true
	p.mu.Unlock()
	p.watch.stop()
	if answered {
		p.ua.goTracked(func() {
			p.waitNotifies()
			if reason == call.EndTransferred && p.hungUp.waitFor(transferByeWait) {
				return // the phone hung up after its transfer, as it should
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := p.dialog.Bye(dialOut(ctx)); err != nil {
				p.ua.log.Debug("sip: bye", "err", err) // the phone is gone: the call ends anyway
			}
			p.ua.untrack(p.dialog.InviteRequest.CallID().Value())
		})
		return
	}
	status, ok := endStatus[reason]
	if !ok {
		status = 500
	}
	switch {
	case refused:
		status = 488
	case denied:
		status = 403
	}
	p.finish(status)
}

// finish hands the INVITE handler its final status, once.
func (p *caller) finish(status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if status == 200 {
		p.answered = true
	}
	select {
	case p.outcome <- status:
	default:
	}
}

func (p *caller) Held(call.HeldBy)       {}
func (p *caller) Resumed()               {}
func (p *caller) Restored(call.Restored) {}

// handleInvite answers INVITEs: new calls from a trunk's address (IP and,
// over UDP, port) are trunk calls; others are registered phones' and are
// authenticated (407) and placed; re-INVITEs update a live call.
func (u *UA) handleInvite(r *responder) {
	if tag, _ := r.req.To().Params.Get("tag"); tag != "" {
		u.handleReinvite(r)
		return
	}
	if t := u.trunks.fromSource(r.req.Source(), r.req.Transport()); t != nil {
		u.handleTrunkInvite(r, t)
		return
	}
	user := u.Registrar.authenticate(r, "Proxy-Authorization", "Proxy-Authenticate", 407)
	if user == nil {
		return
	}
	dest, err := route.Parse(r.req.Recipient.User)
	if err != nil {
		r.respond(404, "Not Found", nil)
		return
	}
	u.place(r, call.Placement{Account: user.AccountID, User: user.ID, Destination: dest.Number}, sameHost(r.req.Source()))
}

// handleTrunkInvite routes a call from a trunk (trusted by its source
// address, and its digest credentials with inbound_auth digest) to the
// user or ring group of the number it calls, when the trunk's account owns
// that number. Anything else is 404: a trunk never reaches another
// account's numbers, another trunk, nor extensions.
func (u *UA) handleTrunkInvite(r *responder, t *trunk) {
	if t.InboundDigest() && !u.authenticateTrunk(r, t) {
		return
	}
	did := didOf(r.req.Recipient.User)
	if did == "" {
		r.respond(404, "Not Found", nil)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	account, err := u.trunkAccount(ctx, t)
	if err != nil {
		u.log.Warn("sip: trunk account", "trunk", t.Name, "err", err)
		r.respond(500, "Server Internal Error", nil)
		return
	}
	n, err := u.store.GetPhoneNumberByNumber(ctx, did)
	if err != nil || (n.UserID == "" && n.RingGroupID == "") || n.AccountID != account {
		u.log.Info("sip: trunk call to a number nobody in its account has", "trunk", t.Name, "number", did)
		r.respond(404, "Not Found", nil)
		return
	}
	var user, display string
	if f := r.req.From(); f != nil {
		user, display = f.Address.User, f.DisplayName
	}
	from, name := trunkCaller(user, display)
	u.place(r, call.Placement{Account: n.AccountID, Destination: did, Inbound: true, From: from, FromName: name},
		u.trunks.flow(t, r.req.Transport()))
}

// place starts the call an INVITE asks for and answers the INVITE with its
// outcome.
func (u *UA) place(r *responder, pl call.Placement, flow func(src string) bool) {
	if u.calls == nil {
		r.respond(503, "Service Unavailable", nil)
		return
	}
	dialog, err := u.dialogs.ReadInvite(r.req, r.tx)
	if err != nil {
		r.respond(400, "Bad Request", nil)
		return
	}
	pl.SDP = string(r.req.Body())
	p := &caller{ua: u, dialog: dialog, key: "sip_" + ident.Short() + ident.Short(), outcome: make(chan int, 1), flow: flow}
	remote, _, err := u.calls.Place(p, pl)
	if err != nil {
		status, reason, hdrs := placeRefusal(err)
		r.respond(status, reason, nil, hdrs...)
		return
	}
	p.remote = remote
	callID := r.req.CallID().Value()
	u.track(callID, p)
	r.tx.OnCancel(func(*sip.Request) { remote.HungUp(p.key) })
	status := <-p.outcome
	r.final.Store(true) // answered through the dialog below
	u.metrics.responded(r.req, status)
	if status != 200 {
		u.untrack(callID)
		var hdrs []sip.Header
		if status == 488 && p.srtpRefused() { // RFC 3261 §20.43
			hdrs = append(hdrs, sip.NewHeader("Warning", `399 `+u.host()+` "SRTP required"`))
		}
		if err := dialog.Respond(status, statusText[status], nil, hdrs...); err != nil {
			u.writeFailed(r.req, status, err)
		}
		return
	}
	p.mu.Lock()
	answer := p.answer
	p.mu.Unlock()
	if err := dialog.RespondSDP([]byte(answer)); err != nil { // waits for the ACK
		u.log.Warn("sip: 200 not acknowledged", "err", err)
		remote.HungUp(p.key)
		return
	}
	p.watch.start(u, func() { remote.Failed(p.key, call.EndFailed) })
}

// handleReinvite applies a new offer on a live dialog (hold, resume).
func (u *UA) handleReinvite(r *responder) {
	p := u.lookup(r.req)
	if p == nil {
		r.respond(481, "Call/Transaction Does Not Exist", nil)
		return
	}
	remote, key := p.party()
	if remote == nil {
		r.respond(491, "Request Pending", nil)
		return
	}
	body := string(r.req.Body())
	type result struct {
		sdp string
		err error
	}
	done := make(chan result, 1)
	remote.Reoffered(key, body, sdpHolds(body), func(sdp string, err error) { done <- result{sdp, err} })
	select {
	case res := <-done:
		if res.err != nil {
			r.respond(488, "Not Acceptable Here", nil)
			return
		}
		r.respond(200, "OK", []byte(res.sdp), sip.NewHeader("Content-Type", "application/sdp"), &u.contact)
	case <-time.After(10 * time.Second):
		r.respond(500, "Server Internal Error", nil)
	}
}

// sdpHolds reports whether an offer puts the call on hold (RFC 3264 §8.4:
// sendonly or inactive; RFC 2543's c=0.0.0.0 too).
func sdpHolds(sdp string) bool {
	for _, line := range strings.Split(sdp, "\n") {
		switch strings.TrimSpace(line) {
		case "a=sendonly", "a=inactive", "c=IN IP4 0.0.0.0":
			return true
		}
	}
	return false
}

func (p *caller) readBye(req *sip.Request, tx sip.ServerTransaction) {
	p.watch.stop()
	p.hungUp.seen()
	if err := p.dialog.ReadBye(req, tx); err != nil {
		if err := tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil)); err != nil {
			p.ua.writeFailed(req, 481, err)
		}
		return
	}
	p.ua.untrack(req.CallID().Value())
	p.remote.HungUp(p.key)
}

func (p *caller) party() (call.Remote, string) { return p.remote, p.key }

// Incoming never reaches a caller.
func (p *caller) Incoming(call.Info, string) {}

// rtpActivity is what the RTP watchdog reads of a SIP leg's media (the
// RTP endpoint the call made for the party).
type rtpActivity interface {
	InactiveFor() time.Duration
	RemoteDirection() string
}

// rtpWatch ends a call whose SIP leg stopped sending RTP (a phone that
// lost power or its network, a trunk that forgot the call): when the leg's
// media has been silent for media.timeout while its last description says
// it sends and receives, the party reports the call failed (and the call
// sends BYE). A leg on hold (sendonly, inactive, c=0.0.0.0) or recvonly
// says it may not send, so silence is not a failure then. It is the media
// watchdog that browser legs use (internal/media), fed with the RTP
// endpoint's activity; plain RTP legs carry no RTCP, so RTP alone counts.
// The zero value is ready to use.
type rtpWatch struct {
	mu      sync.Mutex
	media   call.LegMedia
	leg     ident.LegID
	dog     *media.Watchdog
	stopped bool
}

// newMedia makes the party's RTP endpoint and remembers it.
func (w *rtpWatch) newMedia(m call.Media, id ident.LegID) (call.LegMedia, error) {
	lm, err := m.NewRTP(id)
	if err == nil {
		w.mu.Lock()
		w.media, w.leg = lm, id
		w.mu.Unlock()
	}
	return lm, err
}

// start watches the media (once the call is answered) when it is an RTP
// leg and the timeout is set; onTimeout runs once, on its own goroutine.
// After stop it does nothing.
func (w *rtpWatch) start(u *UA, onTimeout func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	a, ok := w.media.(rtpActivity)
	if !ok || u.rtpTimeout <= 0 || w.stopped || w.dog != nil {
		return
	}
	leg := w.leg
	w.dog = media.NewWatchdog(u.rtpTimeout, func() (time.Duration, bool) {
		return a.InactiveFor(), a.RemoteDirection() == "sendrecv"
	}, func(_ string, idle time.Duration) {
		u.log.Warn("sip: no RTP from the party, ending the call", "leg", leg, "idle", idle.Round(time.Millisecond))
		onTimeout()
	})
}

// stop ends the watch for good.
func (w *rtpWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.dog != nil {
		w.dog.Stop()
	}
}
