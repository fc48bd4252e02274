package sipua

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/ident"
)

// outDialog is the state our outgoing INVITEs share, toward registered
// phones (callee) and trunks (trunkCall): the dialog, its hang-up paths
// and the Party methods a callee ignores.
type outDialog struct {
	ua     *UA
	remote call.Remote
	key    string

	mu       sync.Mutex
	dialog   *sipgo.DialogClientSession
	stop     context.CancelFunc // ends waiting for the INVITE's answer
	answered bool
	ended    bool
	refer    *referNotifier
	hungUp   farBye

	watch rtpWatch
	id    string                // the dialog's id once answered (sipgo's DialogClientSession.ID)
	flow  func(src string) bool // whether an in-dialog request's source is the far end's
}

// matches implements dialogParty: our From tag, the far end's To tag from
// its answer, and its address.
func (p *outDialog) matches(req *sip.Request) bool {
	p.mu.Lock()
	id, flow := p.id, p.flow
	p.mu.Unlock()
	got, err := sip.DialogIDFromRequestUAC(req)
	return err == nil && id != "" && got == id && flow != nil && flow(req.Source())
}

// established records the answered dialog's id; call with p.mu held.
func (p *outDialog) establishedLocked(d *sipgo.DialogClientSession) {
	p.answered, p.id = true, d.ID
}

func (p *outDialog) notifier() *referNotifier {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refer == nil {
		p.refer = &referNotifier{send: func(ctx context.Context, req *sip.Request) error {
			p.mu.Lock()
			d := p.dialog
			p.mu.Unlock()
			if d == nil || d.InviteResponse == nil || d.InviteResponse.Contact() == nil {
				return errors.New("no dialog to send in")
			}
			req.Recipient = d.InviteResponse.Contact().Address
			req.SetDestination(d.InviteRequest.Destination())
			_, err := d.Do(dialOut(ctx), req)
			return err
		}}
	}
	return p.refer
}

func (p *outDialog) Key() string  { return p.key }
func (p *outDialog) Kind() string { return "sip" }
func (p *outDialog) NewMedia(m call.Media, id ident.LegID) (call.LegMedia, error) {
	return p.watch.newMedia(m, id)
}

func (p *outDialog) party() (call.Remote, string) { return p.remote, p.key }

// byeAfter hangs up the answered dialog; after a transfer the phone that
// asked for it gets a moment to hang up by itself first.
func (p *outDialog) byeAfter(reason call.EndReason) {
	if reason == call.EndTransferred {
		p.mu.Lock()
		n := p.refer
		p.mu.Unlock()
		if n != nil {
			n.wait()
		}
		if p.hungUp.waitFor(transferByeWait) {
			return
		}
	}
	p.bye()
}

// bye hangs up the answered dialog.
func (p *outDialog) bye() {
	p.mu.Lock()
	d := p.dialog
	p.mu.Unlock()
	if d == nil {
		return
	}
	p.mu.Lock()
	n := p.refer
	p.mu.Unlock()
	if n != nil {
		n.wait() // a REFER's last NOTIFY goes out before the BYE
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.Bye(dialOut(ctx)); err != nil {
		p.ua.log.Debug("sip: bye", "err", err)
	}
	p.ua.untrack(d.InviteRequest.CallID().Value())
}

// readBye handles the far end hanging up.
func (p *outDialog) readBye(req *sip.Request, tx sip.ServerTransaction) {
	p.watch.stop()
	p.hungUp.seen()
	p.mu.Lock()
	d := p.dialog
	p.ended = true
	p.mu.Unlock()
	if d == nil || d.ReadBye(req, tx) != nil {
		if err := tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil)); err != nil {
			p.ua.writeFailed(req, 481, err)
		}
		return
	}
	p.ua.untrack(req.CallID().Value())
	p.remote.HungUp(p.key)
}

// A callee hears nothing of these: the other party's hold is music in its RTP.
func (p *outDialog) Answer(string)          {}
func (p *outDialog) Ringing()               {}
func (p *outDialog) Answered(time.Time)     {}
func (p *outDialog) Held(call.HeldBy)       {}
func (p *outDialog) Resumed()               {}
func (p *outDialog) Refused(call.Refusal)   {}
func (p *outDialog) Restored(call.Restored) {}
