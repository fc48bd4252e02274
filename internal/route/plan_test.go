package route

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

const (
	acct  ident.AccountID = "acct_a"
	other ident.AccountID = "acct_b"

	alice ident.UserID = "user_alice" // 101, the usual caller
	bob   ident.UserID = "user_bob"   // 102, rings 20 s
	carol ident.UserID = "user_carol" // 103, do not disturb
	dave  ident.UserID = "user_dave"  // 104, may not call out
	erin  ident.UserID = "user_erin"  // 105, has follow-me
	ghost ident.UserID = "user_ghost" // deleted

	sales ident.RingGroupID = "rg_sales" // 200: bob, carol, ghost, then 105
)

// fixture is one account with a US dial plan and 3-digit extensions.
func fixture() *fakeDir {
	d := newFakeDir()
	d.plans[acct] = &store.DialPlan{AccountID: acct, Country: "US", ExtensionLength: 3, EmergencyNumbers: []string{"911", "112"}}
	for _, u := range []store.User{
		{ID: alice, Name: "Alice", Extension: "101", CanCallExternal: true},
		{ID: bob, Name: "Bob", Extension: "102", CanCallExternal: true, RingTimeoutSeconds: 20},
		{ID: carol, Name: "Carol", Extension: "103", CanCallExternal: true, DoNotDisturb: true},
		{ID: dave, Name: "Dave", Extension: "104"},
		{ID: erin, Name: "Erin", Extension: "105", CanCallExternal: true},
	} {
		u.AccountID = acct
		d.users[u.ID] = &u
	}
	d.users["user_mallory"] = &store.User{ID: "user_mallory", AccountID: other, Name: "Mallory", Extension: "106", CanCallExternal: true}
	d.groups[sales] = &store.RingGroup{ID: sales, AccountID: acct, Name: "Sales", Extension: "200",
		Members: []ident.UserID{bob, carol, ghost, "user_mallory"}, RingSeconds: 25, Next: "105"}
	for _, n := range []store.PhoneNumber{
		{Number: "+14155550100", AccountID: acct, UserID: bob},
		{Number: "+14155550101", AccountID: acct, RingGroupID: sales},
		{Number: "+14155550102", AccountID: acct},
		{Number: "+14155550105", AccountID: acct, UserID: erin},
		{Number: "+14155550199", AccountID: other, UserID: "user_mallory"},
	} {
		d.numbers[n.Number] = &n
	}
	d.followMe[erin] = &store.FollowMe{UserID: erin, FinalForward: "200", Steps: []store.FollowMeStep{
		{Targets: []string{"devices", "102", "devices"}, RingSeconds: 15},
		{Targets: []string{"103", "+15551230000", "999", "+14155550100"}},
		{Targets: []string{"103", "911", "*43"}, RingSeconds: 10},
	}}
	return d
}

var testTrunks = []TrunkInfo{
	{Name: "zeta", Prefixes: []string{"+1"}, Priority: 1},
	{Name: "carrier", Prefixes: []string{"1"}, Priority: 1}, // no "+": carries no E.164 number, as on the SIP side
	{Name: "backup", Priority: 2},
	{Name: "intl", Prefixes: []string{"+44", "+33"}, Priority: 0},
}

var (
	fromAlice = From{Account: acct, User: alice}
	fromTrunk = From{Account: acct, Inbound: true}
	ring      = func(d time.Duration, ts ...Target) Step { return Step{Targets: ts, Ring: d} }
	user      = func(id ident.UserID) Target { return Target{User: id} }
	number    = func(n string) Target { return Target{Number: n} }
)

func TestPlanCall(t *testing.T) {
	tests := []struct {
		name    string
		from    From
		dialled string
		setup   func(d *fakeDir, trunks *[]TrunkInfo, opt *Options)
		want    Plan // Dialled, Explain and Err are checked apart
		err     error
		explain []string // lines Explain must contain
	}{
		// Rule 1: emergency.
		{name: "emergency by trunk priority", from: fromAlice, dialled: "911",
			want: Plan{Destination: Destination{KindEmergency, "911"}, Action: ActionTrunk, Number: "911", Emergency: true,
				Trunks: []string{"intl", "zeta", "carrier", "backup"}},
			explain: []string{`dialled "911": emergency number`, "emergency: call 911 via trunks intl, zeta, carrier, backup"}},
		{name: "emergency trunk", from: fromAlice, dialled: "112",
			setup: func(d *fakeDir, _ *[]TrunkInfo, _ *Options) { d.plans[acct].EmergencyTrunk = "backup" },
			want: Plan{Destination: Destination{KindEmergency, "112"}, Action: ActionTrunk, Number: "112", Emergency: true,
				Trunk: "backup", Trunks: []string{"backup"}}},
		{name: "emergency trunk unknown", from: fromAlice, dialled: "911",
			setup: func(d *fakeDir, _ *[]TrunkInfo, _ *Options) { d.plans[acct].EmergencyTrunk = "gone" },
			want: Plan{Destination: Destination{KindEmergency, "911"}, Action: ActionTrunk, Number: "911", Emergency: true,
				Trunk: "gone", Trunks: []string{"intl", "zeta", "carrier", "backup"}},
			explain: []string{"emergency trunk gone is not configured: trying every trunk"}},
		{name: "emergency trunk with no trunk list", from: fromAlice, dialled: "911",
			setup: func(d *fakeDir, ts *[]TrunkInfo, _ *Options) { d.plans[acct].EmergencyTrunk = "e911"; *ts = nil },
			want: Plan{Destination: Destination{KindEmergency, "911"}, Action: ActionTrunk, Number: "911", Emergency: true,
				Trunk: "e911", Trunks: []string{"e911"}}},
		{name: "emergency without external calls", from: From{Account: acct, User: dave}, dialled: "911",
			want: Plan{Destination: Destination{KindEmergency, "911"}, Action: ActionTrunk, Number: "911", Emergency: true,
				Trunks: []string{"intl", "zeta", "carrier", "backup"}}},
		{name: "emergency beats an extension", from: fromAlice, dialled: "112",
			setup: func(d *fakeDir, _ *[]TrunkInfo, _ *Options) { d.users[bob].Extension = "112" },
			want: Plan{Destination: Destination{KindEmergency, "112"}, Action: ActionTrunk, Number: "112", Emergency: true,
				Trunks: []string{"intl", "zeta", "carrier", "backup"}}},
		{name: "emergency from a trunk", from: fromTrunk, dialled: "911",
			want: Plan{Destination: Destination{KindEmergency, "911"}, Action: ActionRefuse, Reason: RefuseFailed}, err: ErrNotAllowed},
		{name: "emergency with no trunk", from: fromAlice, dialled: "911",
			setup: func(_ *fakeDir, ts *[]TrunkInfo, _ *Options) { *ts = nil },
			want:  Plan{Destination: Destination{KindEmergency, "911"}, Action: ActionRefuse, Reason: RefuseFailed}, err: ErrNoRoute},
		{name: "emergency when the dial plan is unreadable", from: fromAlice, dialled: "911",
			setup: func(d *fakeDir, _ *[]TrunkInfo, _ *Options) { d.fail["GetDialPlan"] = errDisk },
			want: Plan{Destination: Destination{KindEmergency, "911"}, Action: ActionTrunk, Number: "911", Emergency: true,
				Trunks: []string{"intl", "zeta", "carrier", "backup"}},
			explain: []string{"dial plan unreadable (disk on fire): using the default emergency numbers"}},
		{name: "dial plan unreadable", from: fromAlice, dialled: "102",
			setup: func(d *fakeDir, _ *[]TrunkInfo, _ *Options) { d.fail["GetDialPlan"] = errDisk },
			want:  Plan{Action: ActionRefuse, Reason: RefuseFailed}, err: ErrNoRoute},
		{name: "emergency address required: not for emergency calls", from: fromAlice, dialled: "911",
			setup: func(d *fakeDir, _ *[]TrunkInfo, _ *Options) { d.plans[acct].EmergencyAddressRequired = true },
			want: Plan{Destination: Destination{KindEmergency, "911"}, Action: ActionTrunk, Number: "911", Emergency: true,
				Trunks: []string{"intl", "zeta", "carrier", "backup"}}},
		{name: "emergency address required for trunk calls", from: fromAlice, dialled: "+14155550177",
			setup: func(d *fakeDir, _ *[]TrunkInfo, _ *Options) { d.plans[acct].EmergencyAddressRequired = true },
			want: Plan{Destination: Destination{KindE164, "+14155550177"}, Action: ActionTrunk, Number: "+14155550177",
				Trunks: []string{"zeta", "backup"}, AddressRequired: true},
			explain: []string{"the account requires a bound emergency address for calls through trunks"}},
		{name: "emergency address required: not for extensions", from: fromAlice, dialled: "102",
			setup: func(d *fakeDir, _ *[]TrunkInfo, _ *Options) { d.plans[acct].EmergencyAddressRequired = true },
			want: Plan{Destination: Destination{KindExtension, "102"}, Action: ActionRing, ToUser: bob,
				Steps: []Step{ring(20*time.Second, user(bob))}}},
		{name: "no dial plan stored", from: From{Account: other, User: "user_mallory"}, dialled: "4155550100",
			want: Plan{Destination: Destination{KindE164, "+14155550100"}, Action: ActionTrunk, Number: "+14155550100",
				Trunks: []string{"zeta", "backup"}}},

		// Rule 2: feature codes.
		{name: "echo", from: fromAlice, dialled: "*43",
			want: Plan{Destination: Destination{KindFeatureCode, "*43"}, Action: ActionEcho}},
		{name: "unknown feature code", from: fromAlice, dialled: "*72*105#",
			want: Plan{Destination: Destination{KindFeatureCode, "*72*105#"}, Action: ActionRefuse, Reason: RefuseFailed},
			err:  ErrNoRoute, explain: []string{"refused: no route: unknown feature code *72*105#"}},
		{name: "feature code from a trunk", from: fromTrunk, dialled: "*43",
			want: Plan{Destination: Destination{KindFeatureCode, "*43"}, Action: ActionRefuse, Reason: RefuseFailed}, err: ErrNotAllowed},

		// Rule 3: extensions.
		{name: "extension of the wrong length", from: fromAlice, dialled: "1020",
			want: Plan{Action: ActionRefuse, Reason: RefuseFailed}, err: ErrInvalidDestination,
			explain: []string{"refused: invalid destination: 1020 has 4 digits, but this account's extensions have 3"}},
		{name: "extension from a trunk", from: fromTrunk, dialled: "102",
			want: Plan{Destination: Destination{KindExtension, "102"}, Action: ActionRefuse, Reason: RefuseFailed}, err: ErrNotAllowed},
		{name: "extension to a user", from: fromAlice, dialled: "102",
			want: Plan{Destination: Destination{KindExtension, "102"}, Action: ActionRing, ToUser: bob,
				Steps: []Step{ring(20*time.Second, user(bob))}},
			explain: []string{"extension 102 → user Bob (user_bob)", "step 1: ring Bob's devices for 20s"}},
		{name: "user with the default ring time", from: From{Account: acct, User: bob}, dialled: "101",
			want: Plan{Destination: Destination{KindExtension, "101"}, Action: ActionRing, ToUser: alice,
				Steps: []Step{ring(30*time.Second, user(alice))}}},
		{name: "user with the configured default ring time", from: From{Account: acct, User: bob}, dialled: "101",
			setup: func(_ *fakeDir, _ *[]TrunkInfo, o *Options) { o.DefaultRing = 12 * time.Second },
			want: Plan{Destination: Destination{KindExtension, "101"}, Action: ActionRing, ToUser: alice,
				Steps: []Step{ring(12*time.Second, user(alice))}}},
		{name: "user with an absurd ring time", from: fromAlice, dialled: "102",
			setup: func(d *fakeDir, _ *[]TrunkInfo, _ *Options) { d.users[bob].RingTimeoutSeconds = 1 << 62 },
			want: Plan{Destination: Destination{KindExtension, "102"}, Action: ActionRing, ToUser: bob,
				Steps: []Step{ring(time.Hour, user(bob))}}},
		{name: "user on do not disturb", from: fromAlice, dialled: "103",
			want: Plan{Destination: Destination{KindExtension, "103"}, Action: ActionRefuse, Reason: RefuseBusy, ToUser: carol},
			err:  ErrNoRoute, explain: []string{"refused: no route: Carol is on do not disturb"}},
		{name: "unreadable follow-me rings the devices", from: fromAlice, dialled: "105",
			setup: func(d *fakeDir, _ *[]TrunkInfo, _ *Options) { d.fail["GetFollowMe"] = errDisk },
			want: Plan{Destination: Destination{KindExtension, "105"}, Action: ActionRing, ToUser: erin,
				Steps: []Step{ring(30*time.Second, user(erin))}}},
		{name: "extension to a ring group", from: fromAlice, dialled: "200",
			setup: func(_ *fakeDir, _ *[]TrunkInfo, o *Options) { o.MaxForwards = -1 },
			want: Plan{Destination: Destination{KindExtension, "200"}, Action: ActionRing, Then: "105",
				Steps: []Step{ring(25*time.Second, user(bob))}},
			explain: []string{"extension 200 → ring group Sales (rg_sales)", "member Carol (user_carol) is on do not disturb, skipped",
				"member user_ghost no longer exists, skipped", "member user_mallory is in another account, skipped",
				"step 1: ring Bob's devices for 25s", "then: forward to 105"}},
		{name: "unknown extension", from: fromAlice, dialled: "999",
			want: Plan{Destination: Destination{KindExtension, "999"}, Action: ActionRefuse, Reason: RefuseFailed},
			err:  ErrNoRoute, explain: []string{"refused: no route: no user or ring group has extension 999"}},
		{name: "another account's extension", from: fromAlice, dialled: "106",
			want: Plan{Destination: Destination{KindExtension, "106"}, Action: ActionRefuse, Reason: RefuseFailed}, err: ErrNoRoute},
		{name: "store error looking up an extension", from: fromAlice, dialled: "102",
			setup: func(d *fakeDir, _ *[]TrunkInfo, _ *Options) { d.fail["GetUserByExtension"] = errDisk },
			want:  Plan{Destination: Destination{KindExtension, "102"}, Action: ActionRefuse, Reason: RefuseFailed}, err: errDisk},
		{name: "store error looking up a ring group", from: fromAlice, dialled: "200",
			setup: func(d *fakeDir, _ *[]TrunkInfo, _ *Options) { d.fail["GetRingGroupByExtension"] = errDisk },
			want:  Plan{Destination: Destination{KindExtension, "200"}, Action: ActionRefuse, Reason: RefuseFailed}, err: ErrNoRoute},
		{name: "any extension length", from: fromAlice, dialled: "10",
			setup: func(d *fakeDir, _ *[]TrunkInfo, _ *Options) { d.plans[acct].ExtensionLength = 0 },
			want:  Plan{Destination: Destination{KindExtension, "10"}, Action: ActionRefuse, Reason: RefuseFailed}, err: ErrNoRoute},

		// Rule 4: national numbers.
		{name: "national number to a user", from: fromAlice, dialled: "4155550100",
			want: Plan{Destination: Destination{KindE164, "+14155550100"}, Action: ActionRing, ToUser: bob,
				Steps: []Step{ring(20*time.Second, user(bob))}},
			explain: []string{`dialled "4155550100" → +14155550100 (national number, country US)`, "number +14155550100 → user Bob (user_bob)"}},
		{name: "national number with the trunk prefix", from: fromAlice, dialled: "14155550101",
			setup: func(_ *fakeDir, _ *[]TrunkInfo, o *Options) { o.MaxForwards = -1 },
			want: Plan{Destination: Destination{KindE164, "+14155550101"}, Action: ActionRing, Then: "105",
				Steps: []Step{ring(25*time.Second, user(bob))}}},
		{name: "international prefix", from: fromAlice, dialled: "011442071234567",
			setup: func(d *fakeDir, _ *[]TrunkInfo, _ *Options) { d.plans[acct].InternationalAllow = []string{"+44"} },
			want: Plan{Destination: Destination{KindE164, "+442071234567"}, Action: ActionTrunk, Number: "+442071234567",
				Trunks: []string{"intl", "backup"}},
			explain: []string{`dialled "011442071234567" → +442071234567 (international prefix 011, country US)`}},
		{name: "national number without a country", from: fromAlice, dialled: "4155550100",
			setup: func(d *fakeDir, _ *[]TrunkInfo, _ *Options) { d.plans[acct].Country = "" },
			want:  Plan{Action: ActionRefuse, Reason: RefuseFailed}, err: ErrInvalidDestination},
		{name: "bad national number", from: fromAlice, dialled: "0415555010",
			want: Plan{Action: ActionRefuse, Reason: RefuseFailed}, err: ErrInvalidDestination},

		// Rule 5: E.164 numbers.
		{name: "number to a ring group", from: fromAlice, dialled: "+14155550101",
			setup: func(_ *fakeDir, _ *[]TrunkInfo, o *Options) { o.MaxForwards = -1 },
			want: Plan{Destination: Destination{KindE164, "+14155550101"}, Action: ActionRing, Then: "105",
				Steps: []Step{ring(25*time.Second, user(bob))}},
			explain: []string{"number +14155550101 → ring group Sales (rg_sales)"}},
		{name: "unrouted number", from: fromAlice, dialled: "+14155550102",
			want: Plan{Destination: Destination{KindE164, "+14155550102"}, Action: ActionRefuse, Reason: RefuseFailed},
			err:  ErrNoRoute, explain: []string{"refused: no route: number +14155550102 is not routed to a user or ring group"}},
		{name: "number routed to a deleted user", from: fromAlice, dialled: "+14155550100",
			setup: func(d *fakeDir, _ *[]TrunkInfo, _ *Options) { delete(d.users, bob) },
			want:  Plan{Destination: Destination{KindE164, "+14155550100"}, Action: ActionRefuse, Reason: RefuseFailed}, err: ErrNoRoute},
		{name: "number from a trunk", from: fromTrunk, dialled: "+14155550100",
			want: Plan{Destination: Destination{KindE164, "+14155550100"}, Action: ActionRing, ToUser: bob,
				Steps: []Step{ring(20*time.Second, user(bob))}}},
		{name: "external number", from: fromAlice, dialled: "+14155559999",
			want: Plan{Destination: Destination{KindE164, "+14155559999"}, Action: ActionTrunk, Number: "+14155559999",
				Trunks: []string{"zeta", "backup"}},
			explain: []string{"+14155559999: external number", "call +14155559999 via trunks zeta, backup"}},
		{name: "another account's number is external", from: fromAlice, dialled: "+14155550199",
			want: Plan{Destination: Destination{KindE164, "+14155550199"}, Action: ActionTrunk, Number: "+14155550199",
				Trunks: []string{"zeta", "backup"}}},
		{name: "no hairpinning", from: fromTrunk, dialled: "+14155550199",
			want: Plan{Destination: Destination{KindE164, "+14155550199"}, Action: ActionRefuse, Reason: RefuseFailed}, err: ErrNotAllowed},
		{name: "user may not call out", from: From{Account: acct, User: dave}, dialled: "+14155559999",
			want: Plan{Destination: Destination{KindE164, "+14155559999"}, Action: ActionRefuse, Reason: RefuseFailed},
			err:  ErrNotAllowed, explain: []string{"refused: not allowed: Dave may not call numbers outside the account"}},
		{name: "caller unreadable", from: From{Account: acct, User: ghost}, dialled: "+14155559999",
			want: Plan{Destination: Destination{KindE164, "+14155559999"}, Action: ActionRefuse, Reason: RefuseFailed}, err: ErrNotAllowed},
		{name: "international not allowed", from: fromAlice, dialled: "+442071234567",
			want: Plan{Destination: Destination{KindE164, "+442071234567"}, Action: ActionRefuse, Reason: RefuseFailed},
			err:  ErrNotAllowed, explain: []string{"refused: not allowed: international calls to +442071234567 (account allow-list is empty)"}},
		{name: "international not on the allow-list", from: fromAlice, dialled: "+33612345678",
			setup: func(d *fakeDir, _ *[]TrunkInfo, _ *Options) { d.plans[acct].InternationalAllow = []string{"+44", ""} },
			want:  Plan{Destination: Destination{KindE164, "+33612345678"}, Action: ActionRefuse, Reason: RefuseFailed},
			err:   ErrNotAllowed, explain: []string{"refused: not allowed: international calls to +33612345678 (account allow-list: +44, \"\")"}},
		{name: "international allowed to all", from: fromAlice, dialled: "+33612345678",
			setup: func(d *fakeDir, _ *[]TrunkInfo, _ *Options) { d.plans[acct].InternationalAllow = []string{"+"} },
			want: Plan{Destination: Destination{KindE164, "+33612345678"}, Action: ActionTrunk, Number: "+33612345678",
				Trunks: []string{"intl", "backup"}}},
		{name: "every number is international without a country", from: fromAlice, dialled: "+14155559999",
			setup: func(d *fakeDir, _ *[]TrunkInfo, _ *Options) { d.plans[acct].Country = "" },
			want:  Plan{Destination: Destination{KindE164, "+14155559999"}, Action: ActionRefuse, Reason: RefuseFailed}, err: ErrNotAllowed},
		{name: "no trunk carries the number", from: fromAlice, dialled: "+442071234567",
			setup: func(d *fakeDir, ts *[]TrunkInfo, _ *Options) {
				d.plans[acct].InternationalAllow = []string{"44"}
				*ts = (*ts)[:2]
			},
			want: Plan{Destination: Destination{KindE164, "+442071234567"}, Action: ActionRefuse, Reason: RefuseFailed},
			err:  ErrNoRoute, explain: []string{"refused: no route: no trunk carries +442071234567"}},
		{name: "store error looking up a number", from: fromAlice, dialled: "+14155559999",
			setup: func(d *fakeDir, _ *[]TrunkInfo, _ *Options) { d.fail["GetPhoneNumberByNumber"] = errDisk },
			want:  Plan{Destination: Destination{KindE164, "+14155559999"}, Action: ActionRefuse, Reason: RefuseFailed}, err: ErrNoRoute},

		// Rule 6: follow-me.
		{name: "follow-me", from: fromAlice, dialled: "105",
			setup: func(_ *fakeDir, _ *[]TrunkInfo, o *Options) { o.MaxForwards = -1 },
			want: Plan{Destination: Destination{KindExtension, "105"}, Action: ActionRing, ToUser: erin, Then: "200",
				Steps: []Step{
					ring(15*time.Second, user(erin), user(bob)),
					ring(30*time.Second, number("+15551230000"), user(bob)),
				}},
			explain: []string{
				"Erin has follow-me with 3 steps",
				"step 1: ring Erin's devices, Bob's devices for 15s",
				"follow-me target 103 skipped: Carol is on do not disturb",
				"follow-me target 999 skipped: no user or ring group has extension 999",
				"step 2: ring +15551230000 via trunks zeta, backup, Bob's devices for 30s",
				"follow-me target 911 skipped: emergency numbers are not follow-me targets",
				"follow-me target *43 skipped: feature codes are not follow-me targets",
				"follow-me step 3: nothing to ring, skipped",
				"then: forward to 200",
			}},
		{name: "follow-me of a user on do not disturb", from: fromAlice, dialled: "105",
			setup: func(d *fakeDir, _ *[]TrunkInfo, o *Options) { d.users[erin].DoNotDisturb = true; o.MaxForwards = -1 },
			want: Plan{Destination: Destination{KindExtension, "105"}, Action: ActionRing, ToUser: erin, Then: "200",
				Steps: []Step{
					ring(15*time.Second, user(bob)),
					ring(30*time.Second, number("+15551230000"), user(bob)),
				}},
			explain: []string{"follow-me target devices skipped: Erin is on do not disturb"}},
		{name: "follow-me owner may not call out", from: fromAlice, dialled: "105",
			setup: func(d *fakeDir, _ *[]TrunkInfo, o *Options) {
				d.users[erin].CanCallExternal = false
				o.MaxForwards = -1
			},
			want: Plan{Destination: Destination{KindExtension, "105"}, Action: ActionRing, ToUser: erin, Then: "200",
				Steps: []Step{
					ring(15*time.Second, user(erin), user(bob)),
					ring(30*time.Second, user(bob)),
				}},
			explain: []string{"follow-me target +15551230000 skipped: not allowed: Erin may not call numbers outside the account"}},
		{name: "follow-me to international numbers and ring groups", from: fromAlice, dialled: "105",
			setup: func(d *fakeDir, _ *[]TrunkInfo, o *Options) {
				d.followMe[erin] = &store.FollowMe{UserID: erin, Steps: []store.FollowMeStep{
					{Targets: []string{"+442071234567", "200", "+14155550101", "+14155550102", "bad\r\n", "02071234567"}, RingSeconds: 5},
				}}
				o.MaxForwards = -1
			},
			want: Plan{Destination: Destination{KindExtension, "105"}, Action: ActionRing, ToUser: erin,
				Steps: []Step{ring(5*time.Second, user(bob))}},
			explain: []string{
				"follow-me target +442071234567 skipped: not allowed: international calls to +442071234567 (account allow-list is empty)",
				"follow-me target +14155550102 skipped: number +14155550102 is not routed",
				`follow-me target "bad\r\n" skipped: invalid destination: "bad\r\n" is not an extension, a phone number or a feature code`,
				"follow-me target 02071234567 skipped: invalid destination: 02071234567: numbers in US have 10 digits after the trunk prefix 1",
				"step 1: ring Bob's devices for 5s", "then: end with no-answer",
			}},
		{name: "follow-me with only a forward", from: fromAlice, dialled: "105",
			setup: func(d *fakeDir, _ *[]TrunkInfo, o *Options) {
				d.followMe[erin] = &store.FollowMe{UserID: erin, FinalForward: "102"}
				o.MaxForwards = -1
			},
			want: Plan{Destination: Destination{KindExtension, "105"}, Action: ActionRing, ToUser: erin, Then: "102"}},
		{name: "follow-me with nothing to ring", from: fromAlice, dialled: "105",
			setup: func(d *fakeDir, _ *[]TrunkInfo, _ *Options) {
				d.followMe[erin] = &store.FollowMe{UserID: erin, Steps: []store.FollowMeStep{{Targets: []string{"103"}}}}
			},
			want: Plan{Destination: Destination{KindExtension, "105"}, Action: ActionRefuse, Reason: RefuseNoAnswer, ToUser: erin},
			err:  ErrNoRoute, explain: []string{"refused: no route: Erin's follow-me has nothing to ring"}},
		{name: "follow-me with nothing to ring on do not disturb", from: fromAlice, dialled: "105",
			setup: func(d *fakeDir, _ *[]TrunkInfo, _ *Options) {
				d.users[erin].DoNotDisturb = true
				d.followMe[erin] = &store.FollowMe{UserID: erin, Steps: []store.FollowMeStep{{Targets: []string{"devices"}}}}
			},
			want: Plan{Destination: Destination{KindExtension, "105"}, Action: ActionRefuse, Reason: RefuseBusy, ToUser: erin},
			err:  ErrNoRoute},

		// Rule 7: ring groups.
		{name: "ring group with nobody and no next", from: fromAlice, dialled: "200",
			setup: func(d *fakeDir, _ *[]TrunkInfo, _ *Options) {
				d.groups[sales].Members = []ident.UserID{carol}
				d.groups[sales].Next = ""
			},
			want: Plan{Destination: Destination{KindExtension, "200"}, Action: ActionRefuse, Reason: RefuseNoAnswer},
			err:  ErrNoRoute, explain: []string{"refused: no route: ring group Sales has nobody to ring"}},
		{name: "ring group with nobody but a next", from: fromAlice, dialled: "200",
			setup: func(d *fakeDir, _ *[]TrunkInfo, o *Options) { d.groups[sales].Members = nil; o.MaxForwards = -1 },
			want:  Plan{Destination: Destination{KindExtension, "200"}, Action: ActionRing, Then: "105"}},
		{name: "ring group default ring time", from: fromAlice, dialled: "200",
			setup: func(d *fakeDir, _ *[]TrunkInfo, o *Options) {
				d.groups[sales].RingSeconds, d.groups[sales].Next = 0, ""
				d.groups[sales].Members = []ident.UserID{alice, bob, alice}
			},
			want: Plan{Destination: Destination{KindExtension, "200"}, Action: ActionRing,
				Steps: []Step{ring(30*time.Second, user(alice), user(bob))}},
			explain: []string{"step 1: ring Alice's devices, Bob's devices for 30s", "then: end with no-answer"}},

		// Injection: refused by the grammar before any lookup.
		{name: "CRLF", from: fromAlice, dialled: "102\r\nVia: evil", want: Plan{Action: ActionRefuse, Reason: RefuseFailed}, err: ErrInvalidDestination},
		{name: "semicolon", from: fromAlice, dialled: "102;transport=tcp", want: Plan{Action: ActionRefuse, Reason: RefuseFailed}, err: ErrInvalidDestination},
		{name: "at", from: fromAlice, dialled: "+14155559999@evil.example", want: Plan{Action: ActionRefuse, Reason: RefuseFailed}, err: ErrInvalidDestination},
		{name: "unicode digits", from: fromAlice, dialled: "１０２", want: Plan{Action: ActionRefuse, Reason: RefuseFailed}, err: ErrInvalidDestination},
		{name: "empty", from: fromAlice, dialled: "", want: Plan{Action: ActionRefuse, Reason: RefuseFailed}, err: ErrInvalidDestination},
		{name: "emergency with a suffix", from: fromAlice, dialled: "911\n", want: Plan{Action: ActionRefuse, Reason: RefuseFailed}, err: ErrInvalidDestination,
			explain: []string{`refused: invalid destination: "911\n" is not an extension, a phone number or a feature code`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := fixture()
			trunks := append([]TrunkInfo(nil), testTrunks...)
			var opt Options
			if tt.setup != nil {
				tt.setup(d, &trunks, &opt)
			}
			p := PlanCall(context.Background(), d, trunks, tt.from, tt.dialled, opt)
			require.NotNil(t, p)
			if tt.err == nil {
				require.NoError(t, p.Err, "%s", strings.Join(p.Explain, "\n"))
			} else {
				require.ErrorIs(t, p.Err, tt.err, "%s", strings.Join(p.Explain, "\n"))
			}
			for _, l := range tt.explain {
				require.Contains(t, p.Explain, l, "%s", strings.Join(p.Explain, "\n"))
			}
			for _, l := range p.Explain {
				require.NotContains(t, l, "\n")
				require.NotContains(t, l, "\r")
			}
			want := tt.want
			want.Dialled, want.Explain, want.Err = tt.dialled, p.Explain, p.Err
			require.Equal(t, want, *p, "%s", strings.Join(p.Explain, "\n"))
		})
	}
}

func TestPlanCallForwards(t *testing.T) {
	ctx := context.Background()
	d := fixture()

	// A trunk call to the ring group: its forward to an extension is
	// planned as the account's, not the trunk's; 105 forwards back to 200.
	p := PlanCall(ctx, d, testTrunks, fromTrunk, "+14155550101", Options{})
	require.Equal(t, ActionRing, p.Action)
	require.Equal(t, "105", p.Then)
	require.Equal(t, From{Account: acct}, p.ForwardFrom(fromTrunk))
	require.Contains(t, p.Explain, "then: forward to 105")
	require.Contains(t, p.Explain, "  extension 105 → user Erin (user_erin)")
	require.Contains(t, p.Explain, "  then: forward to 200")
	require.Contains(t, p.Explain, "    extension 200 → ring group Sales (rg_sales)")
	require.Contains(t, p.Explain, "      (105 was already planned: the forwards loop)")

	// Erin's forward is placed as Erin.
	p = PlanCall(ctx, d, testTrunks, fromAlice, "105", Options{})
	require.Equal(t, From{Account: acct, User: erin}, p.ForwardFrom(fromAlice))

	// A chain longer than MaxForwards stops.
	d.groups[sales].Next = "+14155550105"
	d.followMe[erin].FinalForward = "102"
	p = PlanCall(ctx, d, testTrunks, fromAlice, "200", Options{MaxForwards: 1})
	require.Contains(t, p.Explain, "  then: forward to 102")
	require.Contains(t, p.Explain, "    (not followed: more than 1 forwards)")

	// Negative MaxForwards follows nothing.
	p = PlanCall(ctx, d, testTrunks, fromAlice, "200", Options{MaxForwards: -1})
	for _, l := range p.Explain {
		require.False(t, strings.HasPrefix(l, " "), l)
	}

	// Forwarding out as a user who may not call external numbers.
	d.followMe[erin] = &store.FollowMe{UserID: erin, FinalForward: "+14155559999"}
	d.users[erin].CanCallExternal = false
	p = PlanCall(ctx, d, testTrunks, fromTrunk, "+14155550105", Options{})
	require.Equal(t, "+14155559999", p.Then)
	require.Contains(t, p.Explain, "  refused: not allowed: Erin may not call numbers outside the account")
	fwd := PlanCall(ctx, d, testTrunks, p.ForwardFrom(fromTrunk), p.Then, Options{})
	require.ErrorIs(t, fwd.Err, ErrNotAllowed)
}

// TestPlanCallNames checks that stored names cannot forge explain lines.
func TestPlanCallNames(t *testing.T) {
	d := fixture()
	d.users[bob].Name = "Bob\nrefused: lies"
	d.groups[sales].Name = strings.Repeat("x", 100)
	p := PlanCall(context.Background(), d, testTrunks, fromAlice, "102", Options{})
	require.Contains(t, p.Explain, `extension 102 → user "Bob\nrefused: lies" (user_bob)`)
	p = PlanCall(context.Background(), d, testTrunks, fromAlice, "200", Options{MaxForwards: -1})
	require.Contains(t, p.Explain, fmt.Sprintf("extension 200 → ring group %s… (rg_sales)", strings.Repeat("x", 64)))
}

// TestPlanCallContext checks a cancelled context refuses rather than guesses.
func TestPlanCallContext(t *testing.T) {
	d := fixture()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d.fail["GetUserByExtension"] = ctx.Err()
	p := PlanCall(ctx, d, testTrunks, fromAlice, "102", Options{})
	require.Equal(t, ActionRefuse, p.Action)
	require.ErrorIs(t, p.Err, context.Canceled)
}

func FuzzPlanCall(f *testing.F) {
	for _, s := range []string{"911", "*43", "102", "105", "200", "4155550100", "+442071234567", "+14155559999", "102\r\n", ""} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, dialled string, inbound bool) {
		from := fromAlice
		if inbound {
			from = fromTrunk
		}
		p := PlanCall(context.Background(), fixture(), testTrunks, from, dialled, Options{})
		switch p.Action {
		case ActionTrunk:
			if !ValidE164(p.Number) && !(p.Emergency && emergencyRe.MatchString(p.Number)) {
				t.Fatalf("%q: trunk number %q", dialled, p.Number)
			}
		case ActionRefuse:
			if p.Err == nil || p.Reason == "" {
				t.Fatalf("%q: refused without a reason", dialled)
			}
		case ActionRing, ActionEcho:
		default:
			t.Fatalf("%q: action %q", dialled, p.Action)
		}
		for _, l := range p.Explain {
			if strings.ContainsAny(l, "\r\n") {
				t.Fatalf("%q: explain line %q", dialled, l)
			}
		}
	})
}
