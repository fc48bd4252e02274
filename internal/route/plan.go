package route

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// Dir is what planning reads (the store satisfies it).
type Dir interface {
	GetUser(ctx context.Context, id ident.UserID) (*store.User, error)
	GetUserByExtension(ctx context.Context, account ident.AccountID, ext string) (*store.User, error)
	GetPhoneNumberByNumber(ctx context.Context, number string) (*store.PhoneNumber, error)
	GetRingGroup(ctx context.Context, id ident.RingGroupID) (*store.RingGroup, error)
	GetRingGroupByExtension(ctx context.Context, account ident.AccountID, ext string) (*store.RingGroup, error)
	GetDialPlan(ctx context.Context, account ident.AccountID) (*store.DialPlan, error)
	GetFollowMe(ctx context.Context, user ident.UserID) (*store.FollowMe, error) // store.ErrNotFound when none
}

// TrunkInfo is one trunk as planning sees it (config and stored trunks).
type TrunkInfo struct {
	Name     string
	Prefixes []string // E.164 prefixes it carries ("+" or empty = everything)
	Priority int      // lower first
}

// Refusal is why a plan refuses a call. Its values are the end reasons
// the call ends with, spelled as the call's end reasons are.
type Refusal string

// Refusals.
const (
	RefuseFailed   Refusal = "failed"
	RefuseBusy     Refusal = "busy"      // the user is on do not disturb
	RefuseNoAnswer Refusal = "no-answer" // nothing to ring
)

// From is who places the call.
type From struct {
	Account ident.AccountID
	User    ident.UserID // empty for a call that came in from a trunk
	Inbound bool         // came in from a trunk: it may reach the account's own numbers only
}

// Target is one thing a step rings.
type Target struct {
	User   ident.UserID // ring this user's devices and desk phones
	Number string       // or this E.164 number through a trunk
}

// Step rings its targets at once for Ring.
type Step struct {
	Targets []Target
	Ring    time.Duration
}

// Action is what a plan does with the call.
type Action string

// Actions.
const (
	ActionRing   Action = "ring"   // Steps ring one after the other, then Then
	ActionTrunk  Action = "trunk"  // call Number through a trunk
	ActionEcho   Action = "echo"   // *43: the caller hears themselves
	ActionRefuse Action = "refuse" // Reason and Err say why
)

// Options tune planning.
type Options struct {
	DefaultRing time.Duration // ring time of a user or ring group with none of their own (0: 30 s)
	// MaxForwards is how many Then/FinalForward hops Explain follows
	// (0: 5; negative: none, which saves the lookups).
	MaxForwards int
}

const (
	defaultRing        = 30 * time.Second
	defaultMaxForwards = 5
	// maxRing caps stored ring times, so a silly value cannot overflow
	// a time.Duration.
	maxRing = time.Hour
)

// Plan is how a call is routed, with the reasons in Explain.
type Plan struct {
	Dialled     string
	Destination Destination // after normalisation (a national number becomes KindE164)
	Action      Action
	Steps       []Step       // ActionRing
	Then        string       // ActionRing: destination when every step fails ("" = no-answer)
	Number      string       // ActionTrunk: the number sent to the trunk (E.164, or the emergency number as dialled)
	Emergency   bool         // ActionTrunk: an emergency call
	Trunk       string       // ActionTrunk: the trunk to use first ("" = by prefix and priority)
	Trunks      []string     // ActionTrunk: names of the trunks that would be tried, in order
	ToUser      ident.UserID // the user the destination belongs to, when it is one
	Reason      Refusal      // ActionRefuse: RefuseFailed, RefuseBusy (DND user) or RefuseNoAnswer (nothing to ring)
	Err         error        // ActionRefuse: a clear message for the caller (wraps ErrInvalidDestination, ErrNotAllowed, or ErrNoRoute)
	Explain     []string     // one human-readable line per decision

	// AddressRequired (ActionTrunk, not an emergency call): the account
	// requires the caller's device to have an emergency address bound
	// to its network (store.DialPlan.EmergencyAddressRequired).
	AddressRequired bool
}

// Planning errors, wrapped by Plan.Err.
var (
	// ErrNotAllowed: the caller may not reach the destination (external
	// or international calls, trunk calls to extensions).
	ErrNotAllowed = errors.New("not allowed")
	// ErrNoRoute: nothing can carry or answer the call (no such extension,
	// no trunk for the number, nobody to ring).
	ErrNoRoute = errors.New("no route")
)

// ForwardFrom is who places the forward to p.Then of a call placed by
// from: the same account, as the user whose follow-me forwards (nobody for
// a ring group), never as a trunk call, so a trunk caller can be forwarded
// to an extension and the forwarding user's permissions apply. Plan the
// forward with PlanCall(ctx, dir, trunks, p.ForwardFrom(from), p.Then, opt).
func (p *Plan) ForwardFrom(from From) From {
	return From{Account: from.Account, User: p.ToUser}
}

// PlanCall decides how a call from `from` to `dialled` is routed. It never
// returns nil; dir must not be nil. Store errors other than
// store.ErrNotFound refuse the call (ErrNoRoute) rather than guess, except
// that an unreadable dial plan still routes store.DefaultDialPlan's
// emergency numbers.
func PlanCall(ctx context.Context, dir Dir, trunks []TrunkInfo, from From, dialled string, opt Options) *Plan {
	if opt.DefaultRing <= 0 {
		opt.DefaultRing = defaultRing
	}
	if opt.MaxForwards == 0 {
		opt.MaxForwards = defaultMaxForwards
	}
	return planHops(ctx, dir, trunks, from, dialled, opt, opt.MaxForwards, map[string]bool{dialled: true})
}

// planner plans one hop. It caches users so each is read once.
type planner struct {
	ctx    context.Context
	dir    Dir
	trunks []TrunkInfo
	from   From
	opt    Options
	dp     *store.DialPlan
	p      *Plan
	users  map[ident.UserID]*store.User
}

func (pl *planner) explain(format string, a ...any) {
	pl.p.Explain = append(pl.p.Explain, fmt.Sprintf(format, a...))
}

// refuse ends planning with reason; err wraps one of the package's
// sentinels.
func (pl *planner) refuse(reason Refusal, err error) {
	pl.p.Action, pl.p.Reason, pl.p.Err = ActionRefuse, reason, err
	pl.p.Steps, pl.p.Then = nil, ""
	pl.explain("refused: %v", err)
}

// run applies the rules in order: emergency, feature codes, extensions,
// numbers (national ones normalised first).
func (pl *planner) run(dialled string) {
	dp, err := pl.dir.GetDialPlan(pl.ctx, pl.from.Account)
	switch {
	case err == nil && dp != nil:
		pl.dp = dp
	case err == nil || errors.Is(err, store.ErrNotFound):
		pl.dp = store.DefaultDialPlan(pl.from.Account)
	default:
		pl.dp = store.DefaultDialPlan(pl.from.Account)
		if isEmergency(dialled, pl.dp) {
			pl.explain("dial plan unreadable (%v): using the default emergency numbers", err)
			pl.emergency(dialled)
			return
		}
		pl.refuse(RefuseFailed, fmt.Errorf("%w: the account's dial plan could not be read: %w", ErrNoRoute, err))
		return
	}

	d, how, err := normalise(dialled, pl.dp)
	if err != nil {
		pl.refuse(RefuseFailed, err)
		return
	}
	pl.p.Destination = d
	if how != "" {
		pl.explain("dialled %q → %s (%s)", dialled, d.Number, how)
	}
	switch d.Kind {
	case KindEmergency:
		pl.emergency(dialled)
	case KindFeatureCode:
		pl.feature(d.Number)
	case KindExtension:
		pl.extension(d.Number)
	case KindE164:
		pl.number(d.Number)
	default:
		pl.refuse(RefuseFailed, fmt.Errorf("%w: %q", ErrInvalidDestination, dialled))
	}
	if pl.p.Action == ActionTrunk && !pl.p.Emergency && pl.dp.EmergencyAddressRequired {
		pl.p.AddressRequired = true
		pl.explain("the account requires a bound emergency address for calls through trunks")
	}
}

// emergency routes an emergency number: allowed to every user, whatever
// else they may dial, but not to trunk calls.
func (pl *planner) emergency(number string) {
	p := pl.p
	p.Destination = Destination{Kind: KindEmergency, Number: number}
	pl.explain("dialled %q: emergency number", number)
	if pl.from.Inbound {
		pl.refuse(RefuseFailed, fmt.Errorf("%w: a call from a trunk cannot dial an emergency number", ErrNotAllowed))
		return
	}
	names := pl.emergencyTrunks()
	if len(names) == 0 {
		pl.refuse(RefuseFailed, fmt.Errorf("%w: no trunk can carry emergency number %s", ErrNoRoute, number))
		return
	}
	p.Action, p.Emergency, p.Number, p.Trunk, p.Trunks = ActionTrunk, true, number, pl.dp.EmergencyTrunk, names
	pl.explain("emergency: call %s via %s", number, trunkList(names))
}

// emergencyTrunks is the dial plan's emergency trunk, or every trunk by
// priority when it names none, or one that planning does not know: an
// emergency call must not fail on a stale trunk name.
func (pl *planner) emergencyTrunks() []string {
	et := pl.dp.EmergencyTrunk
	if et != "" && len(pl.trunks) == 0 {
		return []string{et}
	}
	for _, t := range pl.trunks {
		if t.Name == et && et != "" {
			return []string{et}
		}
	}
	if et != "" {
		pl.explain("emergency trunk %s is not configured: trying every trunk", show(et))
	}
	return sortTrunks(pl.trunks, "", "")
}

// feature routes a feature code.
func (pl *planner) feature(code string) {
	if pl.from.Inbound {
		pl.refuse(RefuseFailed, fmt.Errorf("%w: a call from a trunk cannot dial feature codes", ErrNotAllowed))
		return
	}
	if code == "*43" {
		pl.p.Action = ActionEcho
		pl.explain("feature code *43: echo test")
		return
	}
	pl.refuse(RefuseFailed, fmt.Errorf("%w: unknown feature code %s", ErrNoRoute, code))
}

// extension routes an extension to its user or ring group.
func (pl *planner) extension(ext string) {
	if pl.from.Inbound {
		pl.refuse(RefuseFailed, fmt.Errorf("%w: a call from a trunk reaches the account's numbers only, not extensions", ErrNotAllowed))
		return
	}
	u, err := pl.dir.GetUserByExtension(pl.ctx, pl.from.Account, ext)
	switch {
	case err == nil && u != nil:
		pl.users[u.ID] = u
		pl.explain("extension %s → user %s (%s)", ext, show(u.Name), u.ID)
		pl.user(u)
		return
	case err != nil && !errors.Is(err, store.ErrNotFound):
		pl.refuse(RefuseFailed, fmt.Errorf("%w: looking up extension %s: %w", ErrNoRoute, ext, err))
		return
	}
	g, err := pl.dir.GetRingGroupByExtension(pl.ctx, pl.from.Account, ext)
	switch {
	case err == nil && g != nil:
		pl.explain("extension %s → ring group %s (%s)", ext, show(g.Name), g.ID)
		pl.group(g)
	case err != nil && !errors.Is(err, store.ErrNotFound):
		pl.refuse(RefuseFailed, fmt.Errorf("%w: looking up extension %s: %w", ErrNoRoute, ext, err))
	default:
		pl.refuse(RefuseFailed, fmt.Errorf("%w: no user or ring group has extension %s", ErrNoRoute, ext))
	}
}

// number routes an E.164 number: one of the account's own to its user or
// ring group, any other out through a trunk.
func (pl *planner) number(num string) {
	n, err := pl.dir.GetPhoneNumberByNumber(pl.ctx, num)
	switch {
	case err != nil && !errors.Is(err, store.ErrNotFound):
		pl.refuse(RefuseFailed, fmt.Errorf("%w: looking up %s: %w", ErrNoRoute, num, err))
		return
	case err == nil && n != nil && n.AccountID == pl.from.Account:
		pl.ownNumber(n)
		return
	}
	pl.explain("%s: external number", num)
	if pl.from.Inbound {
		pl.refuse(RefuseFailed, fmt.Errorf("%w: a call from a trunk cannot go out through a trunk again", ErrNotAllowed))
		return
	}
	names, err := pl.outbound(num, pl.from.User)
	if err != nil {
		pl.refuse(RefuseFailed, err)
		return
	}
	p := pl.p
	p.Action, p.Number, p.Trunks = ActionTrunk, num, names
	pl.explain("call %s via %s", num, trunkList(names))
}

// ownNumber routes one of the account's numbers.
func (pl *planner) ownNumber(n *store.PhoneNumber) {
	switch {
	case n.UserID != "":
		u, err := pl.user1(n.UserID)
		if err != nil {
			pl.refuse(RefuseFailed, fmt.Errorf("%w: %s is routed to user %s: %w", ErrNoRoute, n.Number, n.UserID, err))
			return
		}
		pl.explain("number %s → user %s (%s)", n.Number, show(u.Name), u.ID)
		pl.user(u)
	case n.RingGroupID != "":
		g, err := pl.dir.GetRingGroup(pl.ctx, n.RingGroupID)
		if err != nil {
			pl.refuse(RefuseFailed, fmt.Errorf("%w: %s is routed to ring group %s: %w", ErrNoRoute, n.Number, n.RingGroupID, err))
			return
		}
		pl.explain("number %s → ring group %s (%s)", n.Number, show(g.Name), g.ID)
		pl.group(g)
	default:
		pl.refuse(RefuseFailed, fmt.Errorf("%w: number %s is not routed to a user or ring group", ErrNoRoute, n.Number))
	}
}

// user1 reads a user once per planning.
func (pl *planner) user1(id ident.UserID) (*store.User, error) {
	if u, ok := pl.users[id]; ok {
		return u, nil
	}
	u, err := pl.dir.GetUser(pl.ctx, id)
	if err == nil && u == nil {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	pl.users[id] = u
	return u, nil
}

// outbound checks that num, an E.164 number the account does not own, may
// go out through a trunk for user (empty: nobody to check), and returns
// the names of the trunks that would carry it.
func (pl *planner) outbound(num string, user ident.UserID) ([]string, error) {
	if user != "" {
		u, err := pl.user1(user)
		if err != nil {
			return nil, fmt.Errorf("%w: cannot read the permissions of %s: %w", ErrNotAllowed, user, err)
		}
		if !u.CanCallExternal {
			return nil, fmt.Errorf("%w: %s may not call numbers outside the account", ErrNotAllowed, show(u.Name))
		}
	}
	if c, ok := countries[pl.dp.Country]; !ok || !hasPrefix(num, c.code) {
		if !allowed(num, pl.dp.InternationalAllow) {
			return nil, fmt.Errorf("%w: international calls to %s (%s)", ErrNotAllowed, num, allowList(pl.dp))
		}
	}
	names := sortTrunks(pl.trunks, num, "")
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: no trunk carries %s", ErrNoRoute, num)
	}
	return names, nil
}
