package sipua

import (
	"context"
	"time"
)

// RegStandby is a trunk another node of the cluster registers: this node
// waits to take over should that node die or drain.
const RegStandby = "standby"

// TrunkLease is this node's right to register one trunk, held until Lost
// is closed (another node may hold it by then) or Release.
type TrunkLease interface {
	Lost() <-chan struct{}
	Release(ctx context.Context) error
}

// TrunkGate decides which node of a cluster registers a trunk: it waits
// until this node may register the trunk named key (its id, or
// "config:" and its config file name) and returns the lease, or ctx's
// error, or another error (the registration waits a while and asks again).
// Without a gate (a single node) every registering trunk registers.
type TrunkGate func(ctx context.Context, key string) (TrunkLease, error)

// SetTrunkGate installs the gate (before Start).
func (u *UA) SetTrunkGate(g TrunkGate) { u.trunkGate = g }

// gateRetry is how long a registration waits after the gate failed.
var gateRetry = time.Second

// keepRegistered registers while ctx lasts: at once on a single node, or
// each time the gate grants this node the trunk's lease (un-registering
// when the lease is lost, then waiting for it again).
func (u *UA) keepRegistered(ctx context.Context, r *registration) {
	defer close(r.done)
	defer r.set(Registration{State: RegOff})
	if u.trunkGate == nil {
		u.registerWhile(ctx, r, nil)
		return
	}
	key := (&trunk{Trunk: r.trunk, id: r.id}).key()
	for ctx.Err() == nil {
		r.set(Registration{State: RegStandby})
		lease, err := u.trunkGate(ctx, key)
		if err != nil {
			if ctx.Err() == nil {
				u.log.Debug("sip: trunk registration lease", "trunk", r.trunk.Name, "err", err)
				sleepCtx(ctx, gateRetry)
			}
			continue
		}
		u.log.Info("sip: trunk registration lease taken: registering", "trunk", r.trunk.Name)
		u.registerWhile(ctx, r, lease.Lost())
		rctx, cancel := context.WithTimeout(context.Background(), regTimeout)
		if err := lease.Release(rctx); err != nil {
			u.log.Warn("sip: trunk registration lease release", "trunk", r.trunk.Name, "err", err)
		}
		cancel()
		select {
		case <-lease.Lost():
			if ctx.Err() == nil {
				u.log.Info("sip: trunk registration lease lost: stopped registering", "trunk", r.trunk.Name)
			}
		default:
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
