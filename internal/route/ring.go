package route

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-voice/switchboard/internal/store"
)

// followMeDevices is the follow-me target for the owner's own devices.
const followMeDevices = "devices"

// seconds turns stored ring seconds into a duration, def when unset.
func seconds(s int, def time.Duration) time.Duration {
	if s <= 0 {
		return def
	}
	return time.Duration(min(s, int(maxRing/time.Second))) * time.Second
}

// ringOf is how long u's devices ring.
func (pl *planner) ringOf(u *store.User) time.Duration {
	return seconds(u.RingTimeoutSeconds, pl.opt.DefaultRing)
}

// user plans a call to u: their follow-me, or their devices.
func (pl *planner) user(u *store.User) {
	p := pl.p
	p.ToUser = u.ID
	fm, err := pl.dir.GetFollowMe(pl.ctx, u.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		fm = nil
	case err != nil:
		pl.explain("follow-me of %s unreadable (%v): ringing their devices", show(u.Name), err)
		fm = nil
	}
	if fm == nil {
		if u.DoNotDisturb {
			pl.refuse(RefuseBusy, fmt.Errorf("%w: %s is on do not disturb", ErrNoRoute, show(u.Name)))
			return
		}
		ring := pl.ringOf(u)
		p.Action = ActionRing
		p.Steps = []Step{{Targets: []Target{{User: u.ID}}, Ring: ring}}
		pl.explain("step 1: ring %s's devices for %s", show(u.Name), ring)
		return
	}

	pl.explain("%s has follow-me with %s", show(u.Name), plural(len(fm.Steps), "step"))
	for i, s := range fm.Steps {
		st := stepBuilder{seen: map[Target]bool{}}
		for _, t := range s.Targets {
			pl.followTarget(u, t, &st)
		}
		if len(st.step.Targets) == 0 {
			pl.explain("follow-me step %d: nothing to ring, skipped", i+1)
			continue
		}
		st.step.Ring = seconds(s.RingSeconds, pl.ringOf(u))
		p.Steps = append(p.Steps, st.step)
		pl.explain("step %d: ring %s for %s", len(p.Steps), strings.Join(st.descs, ", "), st.step.Ring)
	}
	pl.then(fm.FinalForward, func() (Refusal, error) {
		if u.DoNotDisturb {
			return RefuseBusy, fmt.Errorf("%w: %s is on do not disturb and their follow-me has nothing else to ring", ErrNoRoute, show(u.Name))
		}
		return RefuseNoAnswer, fmt.Errorf("%w: %s's follow-me has nothing to ring", ErrNoRoute, show(u.Name))
	})
}

// group plans a call to a ring group: its members at once, then Next.
func (pl *planner) group(g *store.RingGroup) {
	st := stepBuilder{seen: map[Target]bool{}}
	for _, id := range g.Members {
		u, err := pl.user1(id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			pl.explain("member %s no longer exists, skipped", id)
		case err != nil:
			pl.explain("member %s unreadable (%v), skipped", id, err)
		case u.AccountID != g.AccountID:
			pl.explain("member %s is in another account, skipped", id)
		case u.DoNotDisturb:
			pl.explain("member %s (%s) is on do not disturb, skipped", show(u.Name), u.ID)
		default:
			st.add(Target{User: u.ID}, show(u.Name)+"'s devices")
		}
	}
	if len(st.step.Targets) > 0 {
		st.step.Ring = seconds(g.RingSeconds, pl.opt.DefaultRing)
		pl.p.Steps = []Step{st.step}
		pl.explain("step 1: ring %s for %s", strings.Join(st.descs, ", "), st.step.Ring)
	}
	pl.then(g.Next, func() (Refusal, error) {
		return RefuseNoAnswer, fmt.Errorf("%w: ring group %s has nobody to ring", ErrNoRoute, show(g.Name))
	})
}

// then finishes a ring plan with its forward; with no step and no forward
// the call is refused as nothing says.
func (pl *planner) then(next string, nothing func() (Refusal, error)) {
	p := pl.p
	if len(p.Steps) == 0 && next == "" {
		pl.refuse(nothing())
		return
	}
	p.Action, p.Then = ActionRing, next
	if next == "" {
		pl.explain("then: end with no-answer")
		return
	}
	pl.explain("then: forward to %s", show(next))
}

// plural is "1 step", "2 steps".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// stepBuilder collects a step's targets without duplicates.
type stepBuilder struct {
	step  Step
	descs []string
	seen  map[Target]bool
}

func (b *stepBuilder) add(t Target, desc string) {
	if b.seen[t] {
		return
	}
	b.seen[t] = true
	b.step.Targets = append(b.step.Targets, t)
	b.descs = append(b.descs, desc)
}

// followTarget adds what one follow-me target of owner rings to st:
// "devices", an extension (a user's, or a ring group's members), or a
// number (the account's own rings its user or group; any other goes
// through a trunk if owner may call it). Users on do not disturb and
// targets that cannot be reached are skipped and explained.
func (pl *planner) followTarget(owner *store.User, target string, st *stepBuilder) {
	skip := func(format string, a ...any) {
		pl.explain("follow-me target %s skipped: %s", show(target), fmt.Sprintf(format, a...))
	}
	if target == followMeDevices {
		if owner.DoNotDisturb {
			skip("%s is on do not disturb", show(owner.Name))
			return
		}
		st.add(Target{User: owner.ID}, show(owner.Name)+"'s devices")
		return
	}
	d, err := Normalise(target, pl.dp)
	if err != nil {
		skip("%v", err)
		return
	}
	acct := owner.AccountID
	switch d.Kind {
	case KindExtension:
		u, err := pl.dir.GetUserByExtension(pl.ctx, acct, d.Number)
		if err == nil && u != nil {
			pl.users[u.ID] = u
			pl.addUser(u, st, skip)
			return
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			skip("%v", err)
			return
		}
		g, err := pl.dir.GetRingGroupByExtension(pl.ctx, acct, d.Number)
		if err != nil || g == nil {
			skip("no user or ring group has extension %s", d.Number)
			return
		}
		pl.addMembers(g, st, skip)
	case KindE164:
		n, err := pl.dir.GetPhoneNumberByNumber(pl.ctx, d.Number)
		switch {
		case err != nil && !errors.Is(err, store.ErrNotFound):
			skip("%v", err)
		case err == nil && n != nil && n.AccountID == acct:
			pl.addOwnNumber(n, st, skip)
		default:
			names, err := pl.outbound(d.Number, owner.ID)
			if err != nil {
				skip("%v", err)
				return
			}
			st.add(Target{Number: d.Number}, d.Number+" via "+trunkList(names))
		}
	case KindEmergency:
		skip("emergency numbers are not follow-me targets")
	default:
		skip("feature codes are not follow-me targets")
	}
}

// addOwnNumber adds the user or ring group one of the account's numbers
// is routed to.
func (pl *planner) addOwnNumber(n *store.PhoneNumber, st *stepBuilder, skip func(string, ...any)) {
	switch {
	case n.UserID != "":
		u, err := pl.user1(n.UserID)
		if err != nil {
			skip("routed to user %s: %v", n.UserID, err)
			return
		}
		pl.addUser(u, st, skip)
	case n.RingGroupID != "":
		g, err := pl.dir.GetRingGroup(pl.ctx, n.RingGroupID)
		if err != nil {
			skip("routed to ring group %s: %v", n.RingGroupID, err)
			return
		}
		pl.addMembers(g, st, skip)
	default:
		skip("number %s is not routed", n.Number)
	}
}

// addUser adds u's devices unless u is on do not disturb.
func (pl *planner) addUser(u *store.User, st *stepBuilder, skip func(string, ...any)) {
	if u.DoNotDisturb {
		skip("%s is on do not disturb", show(u.Name))
		return
	}
	st.add(Target{User: u.ID}, show(u.Name)+"'s devices")
}

// addMembers adds a ring group's members that can be rung (the group's own
// ring time and Next do not apply inside a follow-me step).
func (pl *planner) addMembers(g *store.RingGroup, st *stepBuilder, skip func(string, ...any)) {
	n := 0
	for _, id := range g.Members {
		u, err := pl.user1(id)
		if err != nil || u.AccountID != g.AccountID || u.DoNotDisturb {
			continue
		}
		st.add(Target{User: u.ID}, show(u.Name)+"'s devices")
		n++
	}
	if n == 0 {
		skip("ring group %s has nobody to ring", show(g.Name))
	}
}
