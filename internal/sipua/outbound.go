package sipua

import (
	"context"
	"errors"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/ident"
)

// outDialog is the state our outgoing INVITEs share, toward registered
// phones (callee, callee.go) and trunks (trunkCall, trunkcall.go): the
// dialog, its hang-up paths and the Party methods a callee ignores.
type outDialog struct {
	sipParty

	// Guarded by mu.
	dialog *sipgo.DialogClientSession
	stop   context.CancelFunc // ends waiting for the INVITE's answer
	id     string             // the dialog's id once answered (sipgo's DialogClientSession.ID)
}

// errNoDialog is a BYE for a party whose INVITE has no dialog (yet).
var errNoDialog = errors.New("no dialog")

// matches implements dialogParty: our From tag, the far end's To tag from
// its answer, and its address.
func (p *outDialog) matches(req *sip.Request) bool {
	p.mu.Lock()
	id, flow := p.id, p.flow
	p.mu.Unlock()
	got, err := sip.DialogIDFromRequestUAC(req)
	return err == nil && id != "" && got == id && flow != nil && flow(req.Source())
}

// acknowledge ACKs the far end's 2xx and records the dialog; when the
// call ended while the 2xx was on its way it hangs up at once and
// reports false.
func (p *outDialog) acknowledge(d *sipgo.DialogClientSession) bool {
	if err := d.Ack(dialOut(context.Background())); err != nil {
		p.ua.log.Warn("sip: ack", "err", err)
	}
	p.mu.Lock()
	p.id = d.ID
	ended := p.state.move(dialogAnswered) != nil // only an ended dialog cannot be answered
	p.mu.Unlock()
	if ended {
		p.bye()
		return false
	}
	return true
}

func (p *outDialog) notifier() *referNotifier { return p.notifierVia(p.sendInDialog) }

// sendInDialog sends req inside the answered dialog, to the far end's
// Contact.
func (p *outDialog) sendInDialog(ctx context.Context, req *sip.Request) error {
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
}

func (p *outDialog) NewMedia(m call.Media, id ident.LegID) (call.LegMedia, error) {
	return p.watch.newMedia(m, id)
}

// bye hangs up the answered dialog.
func (p *outDialog) bye() {
	p.mu.Lock()
	d := p.dialog
	p.mu.Unlock()
	if d == nil {
		return
	}
	p.sendBye(d, d.InviteRequest.CallID().Value())
}

// readBye implements dialogParty: the far end hangs up.
func (p *outDialog) readBye(req *sip.Request, tx sip.ServerTransaction) {
	p.hearBye(req, tx, func() error {
		p.mu.Lock()
		d := p.dialog
		_ = p.state.move(dialogEnded) // the call's Ended has nothing left to do; it may have come first
		p.mu.Unlock()
		if d == nil {
			return errNoDialog
		}
		return d.ReadBye(req, tx)
	})
}

// A callee hears nothing of these.
func (p *outDialog) Answer(string)        {}
func (p *outDialog) Ringing()             {}
func (p *outDialog) Answered(time.Time)   {}
func (p *outDialog) Refused(call.Refusal) {}
