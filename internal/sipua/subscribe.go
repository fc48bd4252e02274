package sipua

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/presence"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// Subscription limits (RFC 6665 §4.2.1.1: the notifier may shorten an
// Expires, and answers 423 with Min-Expires to one it finds too brief).
const (
	subDefaultExpires = 3600 * time.Second // a SUBSCRIBE without Expires
	subMinExpires     = 60 * time.Second
	subMaxExpires     = 3600 * time.Second
	subMaxPerUser     = 100   // live subscriptions one user's phones may hold
	subMaxTotal       = 20000 // live subscriptions on this server
)

// subTable holds the live dialog-package subscriptions: BLF keys of desk
// phones watching other users of their account.
// The presence source they read is the UA's (SetPresence, presence.go);
// without one, SUBSCRIBE is answered 489.
type subTable struct {
	minExpires, maxExpires, defExpires time.Duration
	maxPerUser, maxTotal               int

	mu      sync.Mutex
	byKey   map[string]*subscription // by subKey
	perUser map[ident.UserID]int
	closed  bool
	ctx     context.Context // cancelled by close: subscriptions end
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

func newSubTable() *subTable {
	ctx, stop := context.WithCancel(context.Background())
	return &subTable{minExpires: subMinExpires, maxExpires: subMaxExpires, defExpires: subDefaultExpires,
		maxPerUser: subMaxPerUser, maxTotal: subMaxTotal,
		byKey: map[string]*subscription{}, perUser: map[ident.UserID]int{}, ctx: ctx, stop: stop}
}

// subKey is a subscription's dialog id: Call-ID and both tags (RFC 6665
// §4.1.2 with RFC 3261 §12), the event id apart (we keep one subscription
// per dialog).
func subKey(callID, remoteTag, localTag string) string {
	return callID + "\x00" + remoteTag + "\x00" + localTag
}

var errTooMany = errors.New("sip: too many subscriptions")

// add reserves a place for s, ending (without a NOTIFY) the subscription
// it supersedes: the same phone (source address and transport, or Contact) and user
// watching the same user with the same event id, as a phone that
// rebooted sends. It returns 403 for a user over the cap, 503 when the
// server is full or closing.
func (t *subTable) add(s *subscription) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return 503, errTooMany
	}
	for _, o := range t.byKey {
		if o.owner == s.owner && o.target == s.target && o.eventID == s.eventID && o.sameFlow(s) {
			o.supersede()
			t.removeLocked(o)
			break
		}
	}
	switch {
	case len(t.byKey) >= t.maxTotal:
		return 503, errTooMany
	case t.perUser[s.owner] >= t.maxPerUser:
		return 403, errTooMany
	}
	t.byKey[s.key] = s
	t.perUser[s.owner]++
	t.wg.Add(1)
	return 200, nil
}

// begin counts a subscription that is not kept (a fetch) as running;
// false once closing.
func (t *subTable) begin() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	return true
}

// remove drops s once; the actor calls it as it ends.
func (t *subTable) remove(s *subscription) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.removeLocked(s)
}

func (t *subTable) removeLocked(s *subscription) {
	if t.byKey[s.key] != s {
		return
	}
	delete(t.byKey, s.key)
	if t.perUser[s.owner]--; t.perUser[s.owner] <= 0 {
		delete(t.perUser, s.owner)
	}
}

func (t *subTable) lookup(key string) *subscription {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byKey[key]
}

// count is the number of live subscriptions.
func (t *subTable) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byKey)
}

// close ends every subscription (each sends its final NOTIFY, briefly)
// and waits for them.
func (t *subTable) close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.stop()
	t.wg.Wait()
}

// handleSubscribe answers SUBSCRIBE: the dialog event package only, from
// users of an account (digest, as REGISTER), to users of the same
// account. A SUBSCRIBE inside a subscription's dialog refreshes or (with
// Expires: 0) ends it.
func (u *UA) handleSubscribe(r *responder) {
	t := u.subs
	allow := sip.NewHeader("Allow-Events", eventDialog)
	src := u.PresenceSource()
	if src == nil {
		r.respond(489, "Bad Event", nil)
		return
	}
	pkg, eventID, err := parseEvent(eventValues(r.req))
	switch {
	case err != nil:
		r.respond(400, "Bad Event Header", nil)
		return
	case pkg != eventDialog:
		r.respond(489, "Bad Event", nil, allow) // RFC 6665 §8.2.2
		return
	case !acceptsDialogInfo(headerValues(r.req, "Accept")):
		r.respond(406, "Not Acceptable", nil, sip.NewHeader("Accept", dialogInfoType))
		return
	}
	secs, err := parseExpires(headerValues(r.req, "Expires"), int(t.defExpires.Seconds()))
	if err != nil {
		r.respond(400, "Bad Expires Header", nil)
		return
	}
	expires := time.Duration(secs) * time.Second
	if expires > 0 && expires < t.minExpires {
		r.respond(423, "Interval Too Brief", nil, sip.NewHeader("Min-Expires", strconv.Itoa(int(t.minExpires.Seconds()))))
		return
	}
	expires = min(expires, t.maxExpires)
	if tag, _ := r.req.To().Params.Get("tag"); tag != "" {
		u.refreshSubscription(r, tag, eventID, expires)
		return
	}
	u.startSubscription(r, src, eventID, expires)
}

// refreshSubscription handles a SUBSCRIBE in an existing subscription's
// dialog (RFC 6665 §4.1.2.2), from the phone's address.
func (u *UA) refreshSubscription(r *responder, localTag, eventID string, expires time.Duration) {
	remoteTag, _ := r.req.From().Params.Get("tag")
	s := u.subs.lookup(subKey(r.req.CallID().Value(), remoteTag, localTag))
	if s == nil || !s.flow(r.req.Source()) {
		r.respond(481, "Subscription Does Not Exist", nil)
		return
	}
	if eventID != s.eventID {
		r.respond(489, "Bad Event", nil, sip.NewHeader("Allow-Events", eventDialog))
		return
	}
	if !s.refresh(expires, r.req.Source(), r.req.Transport()) {
		r.respond(481, "Subscription Does Not Exist", nil)
		return
	}
	r.respond(200, "OK", nil, sip.NewHeader("Expires", strconv.Itoa(int(expires.Seconds()))), sip.HeaderClone(&u.contact))
	s.poke() // its NOTIFY after the 200
}

// startSubscription authenticates the phone, finds the user it watches
// and starts the subscription: 200, then a NOTIFY with the user's state.
func (u *UA) startSubscription(r *responder, src presence.Source, eventID string, expires time.Duration) {
	header, challenge, status := "Authorization", "WWW-Authenticate", 401
	if r.req.GetHeader("Authorization") == nil && r.req.GetHeader("Proxy-Authorization") != nil {
		header, challenge, status = "Proxy-Authorization", "Proxy-Authenticate", 407
	}
	user := u.Registrar.authenticate(r, header, challenge, status)
	if user == nil {
		return
	}
	contact := r.req.Contact()
	if contact == nil || contact.Address.Host == "" {
		r.respond(400, "Missing Contact", nil) // RFC 6665 §4.1.2: the NOTIFYs' target
		return
	}
	target, err := u.watchedUser(user, r.req.Recipient.User)
	if errors.Is(err, store.ErrNotFound) {
		r.respond(404, "Not Found", nil)
		return
	} else if err != nil {
		u.log.Warn("sip: subscribe target", "err", err)
		r.respond(500, "Server Internal Error", nil)
		return
	}
	localTag := sip.GenerateTagN(16)
	s := newSubscription(u, r.req, user, target, eventID, localTag, expires)
	if expires == 0 {
		u.fetch(r, src, s, user.AccountID, localTag)
		return
	}
	if status, err := u.subs.add(s); err != nil {
		hdrs := []sip.Header{}
		if status == 503 {
			hdrs = append(hdrs, sip.NewHeader("Retry-After", "60"))
		}
		r.respond(status, "Too Many Subscriptions", nil, hdrs...)
		return
	}
	current, cancel, err := src.Watch(user.AccountID, target.ID, s.changed)
	if err != nil {
		u.subs.remove(s)
		u.subs.wg.Done()
		if errors.Is(err, presence.ErrUnavailable) {
			r.respond(404, "Not Found", nil)
			return
		}
		u.log.Warn("sip: presence watch", "err", err)
		r.respond(500, "Server Internal Error", nil)
		return
	}
	u.acceptSubscribe(r, localTag, expires)
	go s.run(current, cancel)
}

// fetch answers a first SUBSCRIBE with Expires: 0 (RFC 6665 §4.4.3): 200,
// and one NOTIFY with the state that ends the subscription.
func (u *UA) fetch(r *responder, src presence.Source, s *subscription, account ident.AccountID, localTag string) {
	current, cancel, err := src.Watch(account, s.target, func(presence.State) {})
	if err != nil {
		r.respond(404, "Not Found", nil)
		return
	}
	cancel()
	if !u.subs.begin() {
		r.respond(503, "Service Unavailable", nil)
		return
	}
	u.acceptSubscribe(r, localTag, 0)
	go s.fetch(current)
}

// acceptSubscribe answers 200 with our To tag, the granted Expires and our
// Contact (RFC 6665 §4.2.1.1).
func (u *UA) acceptSubscribe(r *responder, localTag string, expires time.Duration) {
	to := r.req.To()
	to.Params = to.Params.Clone()
	to.Params.Add("tag", localTag) // the response copies it: the dialog's local tag
	r.respond(200, "OK", nil, sip.NewHeader("Expires", strconv.Itoa(int(expires.Seconds()))), sip.HeaderClone(&u.contact))
}

// watchedUser finds the user a SUBSCRIBE's Request-URI names in the
// subscriber's account: by extension, else by SIP username. Another
// account's user is not found.
func (u *UA) watchedUser(subscriber *store.User, name string) (*store.User, error) {
	if name == "" {
		return nil, store.ErrNotFound
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	target, err := u.store.GetUserByExtension(ctx, subscriber.AccountID, name)
	if !errors.Is(err, store.ErrNotFound) {
		return target, err // a user's extension wins over a park slot's number
	}
	if slot := u.parkTarget(subscriber, name); slot != nil {
		return slot, nil
	}
	target, err = u.store.GetUserBySIPUsername(ctx, name)
	if err != nil {
		return nil, err
	}
	if target.AccountID != subscriber.AccountID {
		return nil, store.ErrNotFound
	}
	return target, nil
}

// headerValues returns the values of the headers called name.
func headerValues(req *sip.Request, name string) []string {
	var out []string
	for _, h := range req.GetHeaders(name) {
		out = append(out, h.Value())
	}
	return out
}

// eventValues returns the Event header values, compact form ("o") too.
func eventValues(req *sip.Request) []string {
	return append(headerValues(req, "Event"), headerValues(req, "o")...)
}
