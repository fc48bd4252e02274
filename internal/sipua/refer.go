package sipua

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/switchboard-voice/switchboard/internal/route"
)

// referrer is a dialog party that can report a REFER's progress with
// NOTIFY (RFC 3515 §2.4.4) inside its dialog.
type referrer interface {
	dialogParty
	notifier() *referNotifier
}

// referNotifier sends a party's REFER NOTIFYs and makes its BYE wait
// for them, so the phone hears the transfer succeeded before the hang-up.
type referNotifier struct {
	send    func(ctx context.Context, req *sip.Request) error
	pending sync.WaitGroup

	mu   sync.Mutex
	last chan struct{} // closed when the latest NOTIFY is answered: they go out in order
}

// notify sends a message/sipfrag NOTIFY with the given status line, on a
// goroutine the UA waits for; final ends the implicit subscription.
func (n *referNotifier) notify(u *UA, status int, reason string, final bool) {
	n.pending.Add(1)
	n.mu.Lock()
	prev, done := n.last, make(chan struct{})
	n.last = done
	n.mu.Unlock()
	u.goTracked(func() {
		defer n.pending.Done()
		defer close(done)
		if prev != nil {
			<-prev
		}
		req := sip.NewRequest(sip.NOTIFY, sip.Uri{})
		req.AppendHeader(sip.NewHeader("Event", "refer"))
		state := "active;expires=60"
		if final {
			state = "terminated;reason=noresource"
		}
		req.AppendHeader(sip.NewHeader("Subscription-State", state))
		req.AppendHeader(sip.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
		req.SetBody([]byte(fmt.Sprintf("SIP/2.0 %d %s\r\n", status, reason)))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := n.send(ctx, req); err != nil {
			u.log.Debug("sip: refer notify", "err", err)
		}
	})
}

// wait blocks until the NOTIFYs sent so far are answered (or a while).
func (n *referNotifier) wait() {
	done := make(chan struct{})
	go func() {
		n.pending.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(6 * time.Second):
	}
}

// handleRefer transfers a call on a phone's request (RFC 3515): blind to
// the Refer-To target, or, with a Replaces header in it (RFC 3891), by
// joining this call's other party to the other party of the dialog named.
func (u *UA) handleRefer(r *responder) {
	p, ok := u.lookup(r.req).(referrer)
	if !ok {
		r.respond(481, "Call/Transaction Does Not Exist", nil)
		return
	}
	remote, key := p.party()
	if remote == nil {
		r.respond(491, "Request Pending", nil)
		return
	}
	h := r.req.GetHeader("Refer-To")
	if h == nil {
		r.respond(400, "Missing Refer-To", nil)
		return
	}
	dest, replaces, err := parseReferTo(h.Value())
	if err != nil {
		r.respond(400, "Bad Refer-To", nil)
		return
	}
	replKey := ""
	if replaces != "" {
		other := u.lookupCallID(replaces)
		if other == nil {
			r.respond(481, "Replaced Dialog Does Not Exist", nil)
			return
		}
		_, replKey = other.party()
	}
	r.respond(202, "Accepted", nil)
	n := p.notifier()
	n.notify(u, 100, "Trying", false)
	remote.Transfer(key, dest, replKey, func(err error) {
		if err != nil {
			u.log.Info("sip: transfer refused", "err", err)
			n.notify(u, 603, "Declined", true)
			return
		}
		n.notify(u, 200, "OK", true)
	})
}

// parseReferTo reads a Refer-To value: the target's user part (checked
// against the destination grammar when there is no Replaces) and the
// Call-ID of the dialog a Replaces header names.
func parseReferTo(v string) (dest, replacesCallID string, err error) {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			return "", "", errors.New("unterminated <")
		}
		v = v[i+1 : i+j]
	}
	uri, headers, _ := strings.Cut(v, "?")
	var target sip.Uri
	if err := sip.ParseUri(uri, &target); err != nil {
		return "", "", err
	}
	for _, kv := range strings.Split(headers, "&") {
		name, val, _ := strings.Cut(kv, "=")
		if !strings.EqualFold(name, "Replaces") {
			continue
		}
		val, err := url.QueryUnescape(val)
		if err != nil {
			return "", "", err
		}
		callID, _, _ := strings.Cut(val, ";")
		if callID = strings.TrimSpace(callID); callID == "" {
			return "", "", errors.New("empty Replaces")
		}
		return target.User, callID, nil
	}
	if _, err := route.Parse(target.User); err != nil {
		return "", "", err
	}
	return target.User, "", nil
}

// transferByeWait is how long a phone that transferred its call has to
// hang up by itself (the transferor sends the BYE, RFC 5589 §6) before the
// server sends its own.
const transferByeWait = 4 * time.Second

// farBye notes the far end's BYE; the zero value is ready to use.
type farBye struct {
	init sync.Once
	once sync.Once
	ch   chan struct{}
}

func (b *farBye) c() chan struct{} {
	b.init.Do(func() { b.ch = make(chan struct{}) })
	return b.ch
}

// seen records that the far end hung up.
func (b *farBye) seen() { b.once.Do(func() { close(b.c()) }) }

// waitFor reports whether the far end hung up within d.
func (b *farBye) waitFor(d time.Duration) bool {
	select {
	case <-b.c():
		return true
	case <-time.After(d):
		return false
	}
}
