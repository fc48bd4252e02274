package sipua

import (
	"strings"
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
