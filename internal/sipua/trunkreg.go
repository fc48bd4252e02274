package sipua

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// Registration states of a trunk.
const (
	RegOff         = "off"         // the trunk does not register
	RegRegistering = "registering" // the first REGISTER has no answer yet
	RegRegistered  = "registered"
	RegFailed      = "failed" // the last REGISTER failed; retried later
)

// Registration is how a trunk's registration stands.
type Registration struct {
	State     string
	ExpiresAt time.Time // zero unless registered
	LastError string
}

// regRetry is how long a failed registration waits before the next try.
var regRetry = 30 * time.Second

// regTimeout bounds one REGISTER (with its challenge round) and the
// un-REGISTER at shutdown.
const regTimeout = 10 * time.Second

// registrations are the running registrations, by trunk key.
type registrations struct {
	mu     sync.Mutex
	byKey  map[string]*registration
	closed bool
}

// registration keeps one trunk registered until stopped, then un-registers.
type registration struct {
	trunk  config.Trunk
	id     ident.TrunkID // empty for a config file trunk
	cancel context.CancelFunc
	done   chan struct{}
	callID string
	cseq   uint32

	mu     sync.Mutex
	status Registration
}

func (r *registration) set(s Registration) {
	r.mu.Lock()
	r.status = s
	r.mu.Unlock()
}

func (r *registration) get() Registration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

// ReloadTrunks re-reads the stored trunks: calls placed from now on route
// over the config file's trunks and these, and registrations follow (new
// or changed trunks register, removed or changed ones un-register).
func (u *UA) ReloadTrunks(ctx context.Context) error {
	var stored []store.Trunk
	opt := store.ListOptions{Limit: 100}
	for {
		page, more, err := u.store.ListTrunks(ctx, opt)
		if err != nil {
			return fmt.Errorf("sip: load trunks: %w", err)
		}
		stored = append(stored, page...)
		if !more || len(page) == 0 {
			break
		}
		opt.StartingAfter = string(page[len(page)-1].ID)
	}
	if err := u.trunks.setStored(stored); err != nil {
		u.log.Warn("sip: trunk inbound addresses", "err", err) // the trunk still takes outbound calls
	}
	u.syncRegistrations()
	return nil
}

// TrunkRegistration reports the registration of the stored trunk id.
func (u *UA) TrunkRegistration(id ident.TrunkID) Registration {
	return u.trunks.regs.status(string(id))
}

func (g *registrations) status(key string) Registration {
	g.mu.Lock()
	r := g.byKey[key]
	g.mu.Unlock()
	if r == nil {
		return Registration{State: RegOff}
	}
	return r.get()
}

// syncRegistrations starts a registration for every trunk that registers
// and stops those of trunks gone or changed. It needs the client (Start).
func (u *UA) syncRegistrations() {
	g := &u.trunks.regs
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || u.client == nil {
		return
	}
	want := map[string]*trunk{}
	for _, t := range u.trunks.all() {
		if t.Register {
			want[t.key()] = t
		}
	}
	var stop []*registration
	for k, r := range g.byKey {
		if t, ok := want[k]; !ok || !reflect.DeepEqual(t.Trunk, r.trunk) {
			stop = append(stop, r)
			delete(g.byKey, k)
		}
	}
	for _, r := range stop {
		r.cancel()
	}
	for _, r := range stop {
		<-r.done
	}
	if g.byKey == nil {
		g.byKey = map[string]*registration{}
	}
	for k, t := range want {
		if g.byKey[k] != nil {
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		r := &registration{trunk: t.Trunk, id: t.id, cancel: cancel, done: make(chan struct{}), callID: ident.Short() + ident.Short(),
			cseq: 1, status: Registration{State: RegRegistering}}
		g.byKey[k] = r
		u.goTracked(func() { u.keepRegistered(ctx, r) })
	}
}

// closeRegistrations stops every registration (each un-registers) and
// starts no more.
func (u *UA) closeRegistrations() {
	g := &u.trunks.regs
	g.mu.Lock()
	g.closed = true
	regs := g.byKey
	g.byKey = nil
	g.mu.Unlock()
	for _, r := range regs {
		r.cancel()
	}
	for _, r := range regs {
		<-r.done
	}
}

// registerWhile registers, refreshes at half the granted expiry, retries
// failures every regRetry, and un-registers once ctx ends or stop is
// closed (nil: never).
func (u *UA) registerWhile(ctx context.Context, r *registration, stop <-chan struct{}) {
	r.set(Registration{State: RegRegistering})
	registered := false
	for {
		granted, err := u.register(ctx, r, r.trunk.Expires())
		if ctx.Err() != nil {
			break
		}
		wait := regRetry
		if err != nil {
			u.log.Warn("sip: trunk registration failed", "trunk", r.trunk.Name, "err", err)
			r.set(Registration{State: RegFailed, LastError: err.Error()})
		} else {
			registered = true
			r.set(Registration{State: RegRegistered, ExpiresAt: time.Now().Add(granted).UTC()})
			wait = granted / 2
		}
		timer := time.NewTimer(wait)
		stopped := false
		select {
		case <-ctx.Done():
		case <-stop:
			stopped = true
		case <-timer.C:
		}
		timer.Stop()
		if stopped || ctx.Err() != nil {
			break
		}
	}
	if registered {
		if _, err := u.register(context.Background(), r, 0); err != nil {
			u.log.Warn("sip: trunk un-registration failed", "trunk", r.trunk.Name, "err", err)
		}
	}
}

// register sends one REGISTER asking for expires seconds (0 removes the
// binding), answering a digest challenge, and returns the expiry granted.
func (u *UA) register(ctx context.Context, r *registration, expires int) (time.Duration, error) {
	t := r.trunk
	port := t.Port
	if port == 0 {
		port = 5060
	}
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: t.Host, Port: port})
	req.SetTransport(strings.ToUpper(t.Network()))
	aor := sip.Uri{Scheme: "sip", User: t.Username, Host: t.Host}
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	callID := sip.CallIDHeader(r.callID)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: r.cseq, MethodName: sip.REGISTER})
	contact := u.contact
	contact.Params = sip.NewParams()
	req.AppendHeader(&contact)
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))

	ctx, cancel := context.WithTimeout(ctx, regTimeout)
	defer cancel()
	res, err := u.client.Do(dialOut(ctx), req)
	if err == nil && (res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired) {
		if t.Username == "" || t.Password == "" {
			return 0, fmt.Errorf("trunk asked for credentials (%d) and none are set", res.StatusCode)
		}
		res, err = u.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: t.Username, Password: t.Password})
	}
	if cs := req.CSeq(); cs != nil {
		r.cseq = cs.SeqNo + 1
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, errors.New("no answer from the trunk")
		}
		return 0, err
	}
	if !res.IsSuccess() {
		return 0, fmt.Errorf("trunk answered %d %s", res.StatusCode, res.Reason)
	}
	return grantedExpiry(res, expires), nil
}

// grantedExpiry reads the expiry a 2xx to REGISTER grants: our Contact's
// expires parameter, else the Expires header, else what was asked.
func grantedExpiry(res *sip.Response, asked int) time.Duration {
	secs := asked
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil {
			secs = n
		}
	}
	if c := res.Contact(); c != nil {
		if v, ok := c.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				secs = n
			}
		}
	}
	if secs < 2 {
		secs = 2
	}
	return time.Duration(secs) * time.Second
}
