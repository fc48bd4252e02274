package sipua

import (
	"context"
	"errors"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/route"
)

// Placer starts calls (the call manager).
type Placer interface {
	Place(party call.Party, p call.Placement) (call.Remote, ident.CallID, error)
}

// caller is a registered phone or a trunk that sent us an INVITE (UAS
// side). The INVITE handler waits on it for the call's outcome.
type caller struct {
	sipParty
	dialog  *sipgo.DialogServerSession
	answer  string   // guarded by mu
	outcome chan int // final status for the INVITE: 200 or a failure
}

// matches implements dialogParty: our To tag, the phone's From tag, and the
// phone's address.
func (p *caller) matches(req *sip.Request) bool {
	id, err := sip.DialogIDFromRequestUAS(req)
	return err == nil && id == p.dialog.ID && p.flow(req.Source())
}

func (p *caller) notifier() *referNotifier { return p.notifierVia(p.sendInDialog) }

// sendInDialog sends req inside the dialog, to the phone's Contact.
func (p *caller) sendInDialog(ctx context.Context, req *sip.Request) error {
	inv := p.dialog.InviteRequest
	c := inv.Contact()
	if c == nil {
		return errors.New("no contact to send to")
	}
	req.Recipient = c.Address
	req.SetTransport(inv.Transport())
	_, err := p.dialog.Do(dialOut(ctx), req)
	return err
}

func (p *caller) NewMedia(m call.Media, id ident.LegID) (call.LegMedia, error) {
	return p.mediaOver(p.dialog.InviteRequest.Transport(), m, id)
}

// readBye implements dialogParty: the phone hangs up.
func (p *caller) readBye(req *sip.Request, tx sip.ServerTransaction) {
	p.hearBye(req, tx, func() error { return p.dialog.ReadBye(req, tx) })
}

// Incoming never reaches a caller.
func (p *caller) Incoming(call.Info, string) {}

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

// Refused notes an unusable offer: 488 rather than a routing failure if
// the call ends unanswered. Other refusals change nothing.
func (p *caller) Refused(r call.Refusal) {
	if r.Code == call.CodeInvalid {
		p.mu.Lock()
		_ = p.state.move(dialogRefused) // after the answer, or with a refusal noted already, it stands
		p.mu.Unlock()
	}
}

// Forbidden implements call.Forbiddable: the caller may not make this
// call (403, unless its offer was refused: 488 outranks).
func (p *caller) Forbidden() {
	p.mu.Lock()
	_ = p.state.move(dialogDenied) // as in Refused
	p.mu.Unlock()
}

// endStatus is the final response for a call that ends before the answer.
var endStatus = map[call.EndReason]int{
	call.EndBusy: 486, call.EndRejected: 603, call.EndNoAnswer: 480,
	call.EndFailed: 404, call.EndHangup: 487,
}

var statusText = map[int]string{200: "OK", 403: "Forbidden", 486: "Busy Here", 603: "Decline", 480: "Temporarily Unavailable",
	404: "Not Found", 487: "Request Terminated", 488: "Not Acceptable Here", 500: "Server Internal Error"}

// failStatus is the final response to the INVITE of a call that ended
// for reason, unanswered, in state s.
func failStatus(reason call.EndReason, s dialogState) int {
	switch s {
	case dialogRefused:
		return 488
	case dialogDenied:
		return 403
	}
	if status, ok := endStatus[reason]; ok {
		return status
	}
	return 500
}

// Ended hangs up an answered call, or fails the INVITE of one that was
// not.
func (p *caller) Ended(reason call.EndReason, _ *int) {
	p.mu.Lock()
	was, ok := p.endLocked()
	p.mu.Unlock()
	if !ok {
		return
	}
	p.watch.stop()
	if was == dialogAnswered {
		p.ua.goTracked(func() { p.byeAfter(reason, p.bye) })
		return
	}
	p.finish(failStatus(reason, was))
}

// bye hangs up the dialog.
func (p *caller) bye() { p.sendBye(p.dialog, p.dialog.InviteRequest.CallID().Value()) }

// finish hands the INVITE handler its final status, once.
func (p *caller) finish(status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if status == 200 {
		_ = p.state.move(dialogAnswered) // after Ended the INVITE has its answer already
	}
	select {
	case p.outcome <- status:
	default:
	}
}

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
	if u.redirectPickup(r, user.AccountID, dest.Number) { // park.go
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
	p := &caller{sipParty: sipParty{ua: u, key: "sip_" + ident.Short() + ident.Short(), flow: flow}, dialog: dialog,
		outcome: make(chan int, 1)}
	remote, _, err := u.calls.Place(p, pl)
	if err != nil {
		u.refusePlace(r, err, !pl.Inbound)
		return
	}
	p.remote = remote
	u.track(r.req.CallID().Value(), p)
	r.tx.OnCancel(func(*sip.Request) { remote.HungUp(p.key) })
	p.respond(r, <-p.outcome)
}

// respond answers the INVITE with the call's outcome: a failure, or 200
// with the SDP answer, after which the RTP watch starts.
func (p *caller) respond(r *responder, status int) {
	u := p.ua
	r.final.Store(true) // answered through the dialog below
	u.metrics.responded(r.req, status)
	if status != 200 {
		u.untrack(r.req.CallID().Value())
		var hdrs []sip.Header
		if status == 488 && p.srtpRefused() { // RFC 3261 §20.43
			hdrs = append(hdrs, sip.NewHeader("Warning", `399 `+u.host()+` "SRTP required"`))
		}
		if err := p.dialog.Respond(status, statusText[status], nil, hdrs...); err != nil {
			u.writeFailed(r.req, status, err)
		}
		return
	}
	p.mu.Lock()
	answer := p.answer
	p.mu.Unlock()
	if err := p.dialog.RespondSDP([]byte(answer)); err != nil { // waits for the ACK
		u.log.Warn("sip: 200 not acknowledged", "err", err)
		p.remote.HungUp(p.key)
		return
	}
	p.watchRTP()
}
