package sipua

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/emergency"
)

// trunkCall is a call out through the trunks that carry a number (UAC
// side). It tries them one after the other: the next trunk gets the call
// when one answers 5xx or 408 or stays silent for sip.trunk_timeout; any
// other failure (486, 603, 404…) is the far end's answer and ends the call.
type trunkCall struct {
	outDialog // dialog is the current attempt's; stop ends the attempts (CANCEL once ringing)
	trunks    []*trunk
	number    string // E.164, validated
	callerID  string // E.164 the account owns, or anonymous (From)
	asserted  string // the account's number behind callerID (P-Asserted-Identity), or "" when it has none
	early     string // SDP of the current attempt's 183

	// location is an emergency call's caller location, or nil (geoloc.go).
	location *emergency.Location
}

// attempt is how one trunk answered.
type attempt struct {
	answered bool
	failover bool           // the next trunk may be tried
	reason   call.EndReason // why the call ends if it is the last
}

func (p *trunkCall) AlertsItself() bool { return true }

// Incoming sends the INVITE to the first trunk and follows the attempts.
func (p *trunkCall) Incoming(_ call.Info, offer string) {
	ctx, cancel := context.WithCancel(context.Background())
	p.mu.Lock()
	if p.state == dialogEnded {
		p.mu.Unlock()
		cancel()
		return
	}
	p.stop = cancel
	p.mu.Unlock()
	p.ua.goTracked(func() {
		defer cancel()
		p.run(ctx, offer)
	})
}

func (p *trunkCall) run(ctx context.Context, offer string) {
	for i, t := range p.trunks {
		a := p.try(ctx, t, offer)
		if a.answered || ctx.Err() != nil { // answered, or ended by the call
			return
		}
		if !a.failover || i == len(p.trunks)-1 {
			p.remote.Failed(p.key, a.reason)
			return
		}
		p.ua.log.Info("sip: trunk failed, trying the next", "trunk", t.Name, "next", p.trunks[i+1].Name)
	}
}

// try places the call on one trunk and waits for its final answer.
func (p *trunkCall) try(ctx context.Context, t *trunk, offer string) attempt {
	failed := attempt{failover: true, reason: call.EndFailed}
	req := p.invite(t, offer, p.locationFor(t))
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	dialog, err := p.ua.dialogs.WriteInvite(dialOut(actx), req)
	if err != nil {
		p.ua.log.Warn("sip: trunk invite", "trunk", t.Name, "err", err)
		return failed
	}
	callID := dialog.InviteRequest.CallID().Value()
	p.mu.Lock()
	p.dialog, p.early = dialog, ""
	dest := host(dialog.InviteRequest.Destination())
	fromTrunk := p.ua.trunks.flow(t, t.Network())
	p.flow = func(src string) bool { return host(src) == dest || fromTrunk(src) }
	p.mu.Unlock()
	p.ua.track(callID, p)
	// A trunk that does not even say 100 Trying is down: abandon it
	// without CANCEL (RFC 3261 §9.1 allows none before a provisional).
	silent := time.AfterFunc(p.ua.trunkTimeout, func() { cancel(sipgo.WaitAnswerForceCancelErr) })
	defer silent.Stop()
	err = dialog.WaitAnswer(dialOut(actx), sipgo.AnswerOptions{Username: t.Username, Password: t.Password,
		OnResponse: func(res *sip.Response) error {
			if res.IsProvisional() {
				silent.Stop()
			}
			p.progress(res)
			return nil
		}})
	var dr *sipgo.ErrDialogResponse
	switch {
	case err == nil:
		return p.accept(dialog)
	case errors.As(err, &dr):
		p.ua.untrack(callID)
		status := dr.Res.StatusCode
		p.ua.log.Info("sip: trunk refused", "trunk", t.Name, "status", status)
		return attempt{failover: status == 408 || (status >= 500 && status < 600), reason: call.EndReasonForSIP(status)}
	default: // ended by the call, silent, or the transaction failed
		p.ua.untrack(callID)
		if ctx.Err() == nil {
			p.ua.log.Warn("sip: trunk unreachable", "trunk", t.Name, "err", err)
		}
		return failed
	}
}

// invite is the INVITE of one attempt on t; loc, when set, goes with the
// offer as a PIDF-LO (geoloc.go).
func (p *trunkCall) invite(t *trunk, offer string, loc *emergency.Location) *sip.Request {
	target := sip.Uri{Scheme: "sip", User: p.number, Host: t.Host, Port: t.Port}
	if target.Port == 0 {
		target.Port = 5060
	}
	req := sip.NewRequest(sip.INVITE, target)
	req.SetTransport(strings.ToUpper(t.Network()))
	fromURI := sip.Uri{Scheme: "sip", User: p.callerID, Host: p.ua.host()}
	if p.callerID == anonymous {
		fromURI.Host = "anonymous.invalid" // RFC 3323 §4.1.1.3
		req.AppendHeader(sip.NewHeader("Privacy", "id"))
	}
	p.setBody(req, offer, fromURI.String(), loc)
	if p.asserted != "" {
		// RFC 3325 §9.1: the identity the trunk, which trusts us, may rely
		// on (and bill); with Privacy: id it keeps it to itself (§9.3).
		pai := sip.Uri{Scheme: "sip", User: p.asserted, Host: p.ua.host()}
		req.AppendHeader(sip.NewHeader("P-Asserted-Identity", "<"+pai.String()+">"))
	}
	req.AppendHeader(sip.NewHeader("User-Agent", userAgent)) // sipgo adds none
	req.AppendHeader(sip.NewHeader("Allow", allowMethods))
	from := &sip.FromHeader{Address: fromURI, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: target, Params: sip.NewParams()})
	return req
}

// progress reports provisional responses: 180 rings the caller; 183 with
// SDP is early media (it rings the caller too).
func (p *trunkCall) progress(res *sip.Response) {
	switch {
	case res.StatusCode == 180:
		p.remote.Ringing(p.key)
	case res.StatusCode == 183 && len(res.Body()) > 0:
		p.mu.Lock()
		p.early = string(res.Body())
		p.mu.Unlock()
		p.remote.EarlyMedia(p.key, string(res.Body()))
	case res.StatusCode == 183:
		p.remote.Ringing(p.key)
	}
}

// accept acknowledges the answer and reports it, unless the call
// ended while the 200 was on its way: then it hangs up at once.
func (p *trunkCall) accept(dialog *sipgo.DialogClientSession) attempt {
	if !p.acknowledge(dialog) {
		return attempt{answered: true}
	}
	sdp := string(dialog.InviteResponse.Body())
	if sdp == "" {
		p.mu.Lock()
		sdp = p.early // the answer came in the 183 already
		p.mu.Unlock()
	}
	p.remote.Answered(p.key, sdp)
	p.watchRTP()
	return attempt{answered: true}
}

// Ended stops ringing (CANCEL, through the attempt's context) or hangs up.
func (p *trunkCall) Ended(call.EndReason, *int) {
	p.mu.Lock()
	was, ok := p.endLocked()
	stop := p.stop
	p.mu.Unlock()
	if !ok {
		return
	}
	p.watch.stop()
	switch {
	case was == dialogAnswered:
		p.ua.goTracked(p.bye)
	case stop != nil:
		stop()
	}
}
