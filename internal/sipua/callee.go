package sipua

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/ident"
)

// CalleeParties implements call.Phones: one party per registered contact.
func (u *UA) CalleeParties(user ident.UserID, r call.Remote) []call.Party {
	var out []call.Party
	for _, c := range u.Registrar.Contacts(user) {
		out = append(out, &callee{outDialog: outDialog{sipParty: sipParty{ua: u, remote: r,
			key: "sip_" + ident.Short() + ident.Short(), flow: sameHost(c.Source)}}, contact: c})
	}
	return out
}

// callee is a registered phone we ring with an INVITE (UAC side).
type callee struct {
	outDialog
	contact Contact
}

// NewMedia makes WebRTC media for a browser phone (WS/WSS), RTP otherwise
// (offering SRTP to a phone registered over TLS).
func (p *callee) NewMedia(m call.Media, id ident.LegID) (call.LegMedia, error) {
	return p.mediaOver(p.contact.Transport, m, id)
}

// Incoming sends the INVITE and follows it until a final response.
func (p *callee) Incoming(info call.Info, offer string) {
	ctx, cancel := context.WithCancel(context.Background())
	p.mu.Lock()
	p.stop = cancel
	p.mu.Unlock()
	p.ua.goTracked(func() { p.invite(ctx, info, offer) })
}

func (p *callee) invite(ctx context.Context, info call.Info, offer string) {
	req, err := p.request(info, offer)
	if err != nil {
		p.remote.Failed(p.key, "")
		return
	}
	dialog, err := p.ua.dialogs.WriteInvite(dialOut(ctx), req)
	if err != nil {
		p.remote.Failed(p.key, "")
		return
	}
	p.mu.Lock()
	p.dialog = dialog
	p.mu.Unlock()
	p.ua.track(dialog.InviteRequest.CallID().Value(), p)
	err = dialog.WaitAnswer(dialOut(ctx), sipgo.AnswerOptions{})
	var dr *sipgo.ErrDialogResponse
	switch {
	case err == nil:
		if p.acknowledge(dialog) {
			p.remote.Answered(p.key, string(dialog.InviteResponse.Body()))
			p.watchRTP()
		}
	case errors.As(err, &dr):
		p.declined(dr.Res.StatusCode)
		p.ua.untrack(dialog.InviteRequest.CallID().Value())
	default: // cancelled by us, or the transaction timed out
		p.remote.Failed(p.key, "")
		p.ua.untrack(dialog.InviteRequest.CallID().Value())
	}
}

// request is the INVITE that rings the phone's contact with offer.
func (p *callee) request(info call.Info, offer string) (*sip.Request, error) {
	var target sip.Uri
	if err := sip.ParseUri(p.contact.URI, &target); err != nil {
		return nil, err
	}
	req := sip.NewRequest(sip.INVITE, target)
	req.SetBody([]byte(offer))
	if err := p.routeRequest(req); err != nil {
		return nil, err
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	from := &sip.FromHeader{DisplayName: info.FromName, Address: sip.Uri{Scheme: "sip", User: info.From, Host: p.ua.host()},
		Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: target, Params: sip.NewParams()})
	return req, nil
}

// routeRequest sets where the INVITE goes: where the phone registered
// from (through its NAT), or, for a phone on another node's connection,
// that node with a preloaded Route (RFC 3261 §8.1.2; edge.go), over UDP
// from our listener (the address the node knows us by).
func (p *callee) routeRequest(req *sip.Request) error {
	if p.contact.Route == "" {
		req.SetDestination(p.contact.Source)
		req.SetTransport(strings.ToUpper(p.contact.Transport))
		return nil
	}
	hop, err := edgeNextHop(p.contact.Route)
	if err != nil {
		return err
	}
	req.AppendHeader(sip.NewHeader("Route", p.contact.Route))
	req.SetDestination(hop)
	req.SetTransport("UDP")
	req.Laddr = p.ua.udpLaddr()
	return nil
}

// declined reports the phone's final failure response to the call.
func (p *callee) declined(status int) {
	p.mu.Lock()
	p.dialog = nil // the INVITE has its final answer: nothing to CANCEL (RFC 3261 §9.1)
	p.mu.Unlock()
	switch call.EndReasonForSIP(status) {
	case call.EndBusy:
		p.remote.Rejected(p.key, true)
	case call.EndRejected:
		p.remote.Rejected(p.key, false)
	default:
		p.remote.Failed(p.key, "")
	}
}

// Ended cancels a ringing INVITE (with a Reason for answered-elsewhere, RFC
// 3326) or hangs up an answered one.
func (p *callee) Ended(reason call.EndReason, _ *int) {
	p.mu.Lock()
	was, ok := p.endLocked()
	dialog, stop := p.dialog, p.stop
	p.mu.Unlock()
	if !ok {
		return
	}
	p.watch.stop()
	switch {
	case was == dialogAnswered:
		p.ua.goTracked(func() { p.byeAfter(reason, p.bye) })
	case dialog != nil:
		p.ua.goTracked(func() { p.cancel(dialog, reason, stop) })
	case stop != nil:
		stop()
	}
}

func (p *callee) cancel(d *sipgo.DialogClientSession, reason call.EndReason, stop context.CancelFunc) {
	inv := d.InviteRequest
	req := sip.NewRequest(sip.CANCEL, inv.Recipient)
	req.AppendHeader(sip.HeaderClone(inv.Via()))
	req.AppendHeader(sip.HeaderClone(inv.From()))
	req.AppendHeader(sip.HeaderClone(inv.To()))
	req.AppendHeader(sip.HeaderClone(inv.CallID()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	for _, h := range inv.GetHeaders("route") { // the INVITE's, RFC 3261 §9.1
		req.AppendHeader(sip.HeaderClone(h))
	}
	req.SetDestination(inv.Destination())
	req.Laddr = inv.Laddr
	req.SetTransport(inv.Transport())
	if reason == call.EndAnsweredElsewhere {
		req.AppendHeader(sip.NewHeader("Reason", `SIP;cause=200;text="Call completed elsewhere"`))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := p.ua.client.Do(dialOut(ctx), req); err != nil {
		p.ua.log.Debug("sip: cancel", "err", err)
	}
	// The phone answers the INVITE with 487; WaitAnswer returns then. Stop
	// waiting anyway after a while.
	time.AfterFunc(5*time.Second, stop)
}
