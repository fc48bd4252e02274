package call

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

// Add rings Destination (an extension or number, routed as the host's own
// call) and joins the party that answers to this call, which becomes a
// conference (call.add).
type Add struct {
	ReqID       string
	Destination string
}

func (Add) command()            {}
func (a Add) requestID() string { return a.ReqID }

// adding is a call.add ringing its destination: a call of its own, placed
// by an addParty for the host, merged into the conference on answer.
type adding struct {
	reqID, dest string
	host        *leg
	call        *Call
}

// onAdd starts a call.add from l: an RTP endpoint stands in for the host's
// phone in the new call, so that routing, ringing and answering are those
// of any call.
func (c *Call) onAdd(l *leg, m Add) {
	refuse := func(code ErrorCode, msg string) {
		l.party.Refused(Refusal{Code: code, ReqID: m.ReqID, Msg: "call.add: " + msg})
	}
	if strings.TrimSpace(m.Destination) == "" {
		refuse(CodeInvalid, "a destination is required")
		return
	}
	if code, msg := c.mergeRefusal(l, ""); msg != "" {
		refuse(code, msg)
		return
	}
	c.m.wg.Add(1)
	c.m.pending.Add(1)
	go func() {
		defer c.m.wg.Done()
		defer c.m.pending.Add(-1)
		ep, offer, err := c.standIn()
		c.post(event{fn: func() { c.placeAdd(l, m, ep, offer, err) }, dropped: func() {
			if ep != nil {
				_ = ep.Close()
			}
		}})
	}()
}

// standIn makes the endpoint that plays the host's phone in an added call,
// and its offer.
func (c *Call) standIn() (LegMedia, string, error) {
	ep, err := c.m.media.NewRTP(ident.NewLegID())
	if err != nil {
		return nil, "", err
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.m.opt.MediaTimeout)
	defer cancel()
	offer, err := ep.CreateOffer(ctx)
	if err != nil {
		_ = ep.Close()
		return nil, "", err
	}
	return ep, offer, nil
}

// placeAdd places the added call once its stand-in endpoint is ready.
func (c *Call) placeAdd(host *leg, m Add, ep LegMedia, offer string, err error) {
	fail := func(code ErrorCode, msg string) {
		if ep != nil {
			_ = ep.Close()
		}
		if !host.ended {
			host.party.Refused(Refusal{Code: code, ReqID: m.ReqID, Msg: "call.add: " + msg})
		}
	}
	switch {
	case err != nil:
		fail(CodeFailed, "media: "+err.Error())
		return
	case c.state == StateEnded || host.ended:
		fail(CodeFailed, "the call has ended")
		return
	}
	if code, msg := c.mergeRefusal(host, ""); msg != "" { // things may have changed meanwhile
		fail(code, msg)
		return
	}
	if c.conf == nil {
		if err := c.startConference(host); err != nil {
			fail(CodeFailed, "media: "+err.Error())
			return
		}
	}
	p := &addParty{conf: c, key: "conference-add-" + string(ident.NewLegID()), ep: ep}
	_, id, err := c.m.Place(p, Placement{Account: c.account, User: host.user, Destination: m.Destination, SDP: offer})
	if err != nil {
		fail(CodeFailed, err.Error())
		return
	}
	if c.conf.adds == nil {
		c.conf.adds = map[string]*adding{}
	}
	c.conf.adds[p.key] = &adding{reqID: m.ReqID, dest: m.Destination, host: host, call: c.m.lookup(id)}
	c.rec.noted(fmt.Sprintf("%s%s adds %s", notePrefix(c.rec.record().Transfer), partyName(host), m.Destination))
	c.confUpdated(m.ReqID) // accepted: the party joins on answer
}

// addAnswered runs on the conference when an added call was answered: its
// answering party is merged in.
func (c *Call) addAnswered(key string) {
	var a *adding
	if c.conf != nil {
		a = c.conf.adds[key]
		delete(c.conf.adds, key)
	}
	if a == nil || a.call == nil {
		return
	}
	if c.state == StateEnded {
		a.call.post(event{fn: func() { a.call.end(EndHangup) }})
		return
	}
	c.expectMerge(a.call, &mergeReq{reqID: a.reqID, what: "call.add", host: a.host})
	ac := a.call
	ac.post(event{fn: func() { ac.mergeOut(c, key) }, dropped: func() {
		c.post(event{fn: func() { c.mergeFailed(ac, "the added call has ended") }})
	}})
}

// addEnded runs on the conference when an added call ended unanswered.
func (c *Call) addEnded(key string, reason EndReason) {
	if c.conf == nil || c.conf.adds[key] == nil {
		return
	}
	a := c.conf.adds[key]
	delete(c.conf.adds, key)
	if !a.host.ended && c.state != StateEnded {
		a.host.party.Refused(Refusal{Code: CodeFailed, ReqID: a.reqID,
			Msg: fmt.Sprintf("call.add: %s: %s", a.dest, reason)})
	}
}

// cancelAdds hangs up the added calls still ringing (the conference ended).
func (cf *conference) cancelAdds() {
	for key, a := range cf.adds {
		delete(cf.adds, key)
		if ac := a.call; ac != nil {
			ac.post(event{fn: func() { ac.end(EndHangup) }})
		}
	}
}

// addParty is the host's side of an added call: it answers for the host
// (ep, an RTP endpoint nobody listens to, until the merge moves the
// answering party into the conference) and reports to the conference.
// Its methods run on the added call's actor.
type addParty struct {
	conf *Call
	key  string
	ep   LegMedia
}

func (p *addParty) Key() string                                        { return p.key }
func (p *addParty) Kind() string                                       { return "conference" }
func (p *addParty) Incoming(Info, string)                              {}
func (p *addParty) Answer(sdp string)                                  { _ = p.ep.SetAnswer(sdp) }
func (p *addParty) Ringing()                                           {}
func (p *addParty) Held(HeldBy)                                        {}
func (p *addParty) Resumed()                                           {}
func (p *addParty) Refused(Refusal)                                    {}
func (p *addParty) Restored(Restored)                                  {}
func (p *addParty) AlertsItself() bool                                 { return false }
func (p *addParty) NewMedia(m Media, id ident.LegID) (LegMedia, error) { return m.NewRTP(id) }

func (p *addParty) Answered(time.Time) {
	c, key := p.conf, p.key
	c.post(event{fn: func() { c.addAnswered(key) }, dropped: func() {
		if ac := c.m.callWithMember(key, c); ac != nil { // the conference is over
			ac.post(event{fn: func() { ac.end(EndHangup) }})
		}
	}})
}

func (p *addParty) Ended(reason EndReason, _ *int) {
	_ = p.ep.Close()
	if reason == EndMerged {
		return
	}
	c, key := p.conf, p.key
	c.post(event{fn: func() { c.addEnded(key, reason) }})
}
