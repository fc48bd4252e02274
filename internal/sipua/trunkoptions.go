package sipua

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

// Trunk reachability, from OPTIONS pings (sip.trunk_options_interval).
const (
	ReachOff         = "off"         // pings are not configured
	ReachUnknown     = "unknown"     // not pinged yet
	ReachReachable   = "reachable"   // it answered the last ping (any status)
	ReachUnreachable = "unreachable" // the last ping got no answer
)

// optionsTimeout bounds one ping: a trunk that takes longer is as good as
// unreachable for calls (sip.trunk_timeout is about as long).
const optionsTimeout = 5 * time.Second

// TrunkReach is how a trunk answered its last OPTIONS ping.
type TrunkReach struct {
	State     string
	RTT       time.Duration // request to response, when reachable
	Status    int           // the response's status code (any answer means up)
	CheckedAt time.Time
	LastError string
}

// qualifier pings every trunk with OPTIONS each interval, as PBXes
// "qualify" their peers, and keeps the last result per trunk.
type qualifier struct {
	every  time.Duration
	mu     sync.Mutex
	byKey  map[string]TrunkReach
	cancel context.CancelFunc
}

// startQualify starts the pings, when configured (Start).
func (u *UA) startQualify() {
	if u.qual.every <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	u.qual.mu.Lock()
	u.qual.cancel = cancel
	u.qual.mu.Unlock()
	u.goTracked(func() { u.qualifyLoop(ctx) })
}

// stopQualify ends the pings (Close waits for them).
func (u *UA) stopQualify() {
	u.qual.mu.Lock()
	defer u.qual.mu.Unlock()
	if u.qual.cancel != nil {
		u.qual.cancel()
	}
}

func (u *UA) qualifyLoop(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		u.qualifyAll(ctx)
		t.Reset(u.qual.every)
	}
}

// qualifyAll pings every trunk at once and keeps the results, forgetting
// trunks that are gone.
func (u *UA) qualifyAll(ctx context.Context) {
	trunks := u.trunks.all()
	results := make([]TrunkReach, len(trunks))
	var wg sync.WaitGroup
	for i, t := range trunks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = u.ping(ctx, t)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	byKey := make(map[string]TrunkReach, len(trunks))
	for i, t := range trunks {
		byKey[t.key()] = results[i]
		if prev, ok := u.qual.get(t.key()); ok && prev.State != results[i].State && prev.State != ReachUnknown {
			u.log.Warn("sip: trunk reachability changed", "trunk", t.Name, "from", prev.State, "to", results[i].State,
				"err", results[i].LastError)
		}
	}
	u.qual.mu.Lock()
	u.qual.byKey = byKey
	u.qual.mu.Unlock()
}

func (q *qualifier) get(key string) (TrunkReach, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	r, ok := q.byKey[key]
	return r, ok
}

// ping sends one OPTIONS out of dialog to the trunk's address.
func (u *UA) ping(ctx context.Context, t *trunk) TrunkReach {
	port := t.Port
	if port == 0 {
		port = 5060
	}
	target := sip.Uri{Scheme: "sip", Host: t.Host, Port: port}
	req := sip.NewRequest(sip.OPTIONS, target)
	req.SetTransport(strings.ToUpper(t.Network()))
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "switchboard", Host: u.host()}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: target, Params: sip.NewParams()})
	callID := sip.CallIDHeader(ident.Short() + ident.Short())
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.OPTIONS})
	contact := u.contact
	req.AppendHeader(&contact)
	req.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	ctx, cancel := context.WithTimeout(ctx, optionsTimeout)
	defer cancel()
	start := time.Now()
	res, err := u.client.Do(dialOut(ctx), req)
	r := TrunkReach{CheckedAt: time.Now().UTC()}
	if err != nil {
		r.State, r.LastError = ReachUnreachable, err.Error()
		return r
	}
	r.State, r.RTT, r.Status = ReachReachable, time.Since(start), res.StatusCode
	return r
}

// TrunkReachability reports the stored trunk id's last OPTIONS ping.
func (u *UA) TrunkReachability(id ident.TrunkID) TrunkReach {
	if u.qual.every <= 0 {
		return TrunkReach{State: ReachOff}
	}
	if r, ok := u.qual.get(string(id)); ok {
		return r
	}
	return TrunkReach{State: ReachUnknown}
}
