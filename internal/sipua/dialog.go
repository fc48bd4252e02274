package sipua

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/switchboard-voice/switchboard/internal/call"
)

// dialogParty is a SIP party with a dialog: in-dialog requests go to it.
type dialogParty interface {
	readBye(req *sip.Request, tx sip.ServerTransaction)
	party() (call.Remote, string)
	// matches reports whether an in-dialog request belongs to this
	// party's dialog: Call-ID and both tags (RFC 3261 §12.2.2), sent from
	// the party's flow (the address its dialog was made with).
	matches(req *sip.Request) bool
}

// sipDialog is what a party asks of its sipgo dialog session, on either
// side.
type sipDialog interface {
	Bye(ctx context.Context) error
}

// sipParty is what both kinds of SIP party share: the answering side
// (caller, inbound.go) and the calling side (outDialog, outbound.go). It
// holds the call the party is a leg of, the dialog's state, a REFER's
// NOTIFYs, the far end's BYE and the RTP watch.
type sipParty struct {
	ua     *UA
	remote call.Remote
	key    string

	mu     sync.Mutex
	state  dialogState
	refer  *referNotifier
	hungUp farBye

	watch rtpWatch
	// flow reports whether an in-dialog request's source is the far end's;
	// the calling side sets it per attempt, under mu.
	flow func(src string) bool
}

func (p *sipParty) Key() string                  { return p.key }
func (p *sipParty) Kind() string                 { return "sip" }
func (p *sipParty) party() (call.Remote, string) { return p.remote, p.key }

// A SIP party hears nothing of these: the other party's hold is music in
// its RTP, and only browser sessions are restored.
func (p *sipParty) Held(call.HeldBy)       {}
func (p *sipParty) Resumed()               {}
func (p *sipParty) Restored(call.Restored) {}

// endLocked moves the dialog to ended and returns the state it left; ok
// is false when it had ended already. Call with p.mu held.
func (p *sipParty) endLocked() (was dialogState, ok bool) {
	was = p.state
	return was, p.state.move(dialogEnded) == nil
}

// notifierVia is the party's REFER notifier, made on first use with send
// (how the party sends a request inside its dialog).
func (p *sipParty) notifierVia(send func(ctx context.Context, req *sip.Request) error) *referNotifier {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refer == nil {
		p.refer = &referNotifier{send: send}
	}
	return p.refer
}

// waitNotifies lets a REFER's last NOTIFY go out before the BYE.
func (p *sipParty) waitNotifies() {
	p.mu.Lock()
	n := p.refer
	p.mu.Unlock()
	if n != nil {
		n.wait()
	}
}

// watchRTP starts the answered call's RTP watch: silence fails the call.
func (p *sipParty) watchRTP() {
	p.watch.start(p.ua, func() { p.remote.Failed(p.key, call.EndFailed) })
}

// byeAfter hangs up with bye once the call ended for reason; after a
// transfer the phone that asked for it gets a moment to hang up by itself
// first.
func (p *sipParty) byeAfter(reason call.EndReason, bye func()) {
	if reason == call.EndTransferred {
		p.waitNotifies()
		if p.hungUp.waitFor(transferByeWait) {
			return // the phone hung up after its transfer, as it should
		}
	}
	bye()
}

// sendBye hangs up the answered dialog d (Call-ID callID), once a REFER's
// last NOTIFY is out.
func (p *sipParty) sendBye(d sipDialog, callID string) {
	p.waitNotifies()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.Bye(dialOut(ctx)); err != nil {
		p.ua.log.Debug("sip: bye", "err", err) // the far end is gone: the call ends anyway
	}
	p.ua.untrack(callID)
}

// hearBye handles the far end hanging up; read passes the BYE to the
// dialog (which answers it 200) and fails when there is no dialog to end,
// which is 481.
func (p *sipParty) hearBye(req *sip.Request, tx sip.ServerTransaction, read func() error) {
	p.watch.stop()
	p.hungUp.seen()
	if err := read(); err != nil {
		if err := tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil)); err != nil {
			p.ua.writeFailed(req, 481, err)
		}
		return
	}
	p.ua.untrack(req.CallID().Value())
	p.remote.HungUp(p.key)
}

func (u *UA) track(callID string, p dialogParty) {
	u.mu.Lock()
	u.active[callID] = p
	u.mu.Unlock()
}

func (u *UA) untrack(callID string) {
	u.mu.Lock()
	delete(u.active, callID)
	u.mu.Unlock()
}

// lookup finds the party whose dialog req is in, or nil: an unknown
// Call-ID, tags that are not the dialog's, or a request from another
// address all get 481.
func (u *UA) lookup(req *sip.Request) dialogParty {
	u.mu.Lock()
	p := u.active[req.CallID().Value()]
	u.mu.Unlock()
	if p == nil || !p.matches(req) {
		return nil
	}
	return p
}

// lookupCallID finds a party by Call-ID alone (a Replaces header names a
// dialog of the same phone that sends the REFER: see handleRefer).
func (u *UA) lookupCallID(callID string) dialogParty {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.active[callID]
}

// sameHost is the flow check of a party reached at addr: requests in its
// dialog come from the same IP address (the port may differ, as phones
// open new TCP connections).
func sameHost(addr string) func(string) bool {
	h := host(addr)
	return func(src string) bool { return host(src) == h }
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

func (u *UA) handleBye(r *responder) {
	p := u.lookup(r.req)
	if p == nil {
		r.respond(481, "Call/Transaction Does Not Exist", nil)
		return
	}
	r.final.Store(true) // the dialog answers it
	p.readBye(r.req, r.tx)
}

// handleAck passes ACKs of our 2xx to the dialog waiting for them.
func (u *UA) handleAck(req *sip.Request, tx sip.ServerTransaction) {
	if p, ok := u.lookup(req).(*caller); ok {
		_ = p.dialog.ReadAck(req, tx)
	}
}
