package api

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/route"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// Limits of a dial plan's lists.
const (
	maxEmergencyNumbers   = 10
	maxInternationalAllow = 50
)

var (
	emergencyRe  = regexp.MustCompile(`^[0-9]{2,6}$`)
	intlPrefixRe = regexp.MustCompile(`^\+[0-9]{0,6}$`)
)

// badField is a 400 whose details name the field at fault, so a form can
// point at it.
func badField(field, code, format string, args ...any) *Error {
	e := apiErr(http.StatusBadRequest, code, format, args...)
	e.Details = map[string]any{"field": field}
	return e
}

type dialPlanJSON struct {
	Object             string   `json:"object"`
	AccountID          string   `json:"account_id"`
	ExtensionLength    int      `json:"extension_length"`
	Country            string   `json:"country"`
	EmergencyNumbers   []string `json:"emergency_numbers"`
	EmergencyTrunk     string   `json:"emergency_trunk"`
	InternationalAllow []string `json:"international_allow"`
	MaxOutboundCalls   int      `json:"max_outbound_calls"`
	// EmergencyAddressRequired: see store.DialPlan.
	EmergencyAddressRequired bool `json:"emergency_address_required"`
	// UpdatedAt is null while the account uses the default plan.
	UpdatedAt *string `json:"updated_at"`
}

func dialPlanView(p *store.DialPlan) dialPlanJSON {
	v := dialPlanJSON{Object: "dial_plan", AccountID: string(p.AccountID), ExtensionLength: p.ExtensionLength,
		Country: p.Country, EmergencyNumbers: nonNil(p.EmergencyNumbers), EmergencyTrunk: p.EmergencyTrunk,
		InternationalAllow: nonNil(p.InternationalAllow), MaxOutboundCalls: p.MaxOutboundCalls,
		EmergencyAddressRequired: p.EmergencyAddressRequired}
	if !p.UpdatedAt.IsZero() {
		s := rfc3339(p.UpdatedAt)
		v.UpdatedAt = &s
	}
	return v
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// dialPlanInput is the body of PUT /v1/dial_plan: given fields replace the
// stored ones, absent fields keep theirs.
type dialPlanInput struct {
	ExtensionLength    *int      `json:"extension_length"`
	Country            *string   `json:"country"`
	EmergencyNumbers   *[]string `json:"emergency_numbers"`
	EmergencyTrunk     *string   `json:"emergency_trunk"`
	InternationalAllow *[]string `json:"international_allow"`
	MaxOutboundCalls   *int      `json:"max_outbound_calls"`
	// EmergencyAddressRequired: see store.DialPlan.
	EmergencyAddressRequired *bool `json:"emergency_address_required"`
}

func (in *dialPlanInput) apply(p *store.DialPlan) {
	if in.ExtensionLength != nil {
		p.ExtensionLength = *in.ExtensionLength
	}
	if in.Country != nil {
		p.Country = *in.Country
	}
	if in.EmergencyNumbers != nil {
		p.EmergencyNumbers = *in.EmergencyNumbers
	}
	if in.EmergencyTrunk != nil {
		p.EmergencyTrunk = *in.EmergencyTrunk
	}
	if in.InternationalAllow != nil {
		p.InternationalAllow = *in.InternationalAllow
	}
	if in.MaxOutboundCalls != nil {
		p.MaxOutboundCalls = *in.MaxOutboundCalls
	}
	if in.EmergencyAddressRequired != nil {
		p.EmergencyAddressRequired = *in.EmergencyAddressRequired
	}
}

// CheckDialPlan validates p and puts it in canonical form: the country
// upper-cased, lists without repeats, the emergency trunk spelled as in
// trunkNames (every trunk there is, stored and from the config file). Nil
// trunkNames skips the emergency trunk: check it when it changes only, so
// a plan whose trunk went away can still be edited (emergency calls then
// try every trunk). Errors are *Error with a stable code.
func CheckDialPlan(p *store.DialPlan, trunkNames []string) error {
	if p.ExtensionLength != 0 && (p.ExtensionLength < 2 || p.ExtensionLength > 8) {
		return badField("extension_length", "invalid_extension_length",
			"extension_length must be 0 (any 2 to 8 digits) or 2 to 8")
	}
	p.Country = strings.ToUpper(strings.TrimSpace(p.Country))
	if p.Country != "" && !route.KnownCountry(p.Country) {
		return badField("country", "invalid_country",
			"country %q: want an ISO 3166 alpha-2 code the router knows (e.g. US, GB), or empty to refuse national numbers", p.Country)
	}
	p.EmergencyNumbers = dedupe(p.EmergencyNumbers)
	if len(p.EmergencyNumbers) > maxEmergencyNumbers {
		return badField("emergency_numbers", "invalid_emergency_numbers",
			"at most %d emergency numbers", maxEmergencyNumbers)
	}
	for _, n := range p.EmergencyNumbers {
		if !emergencyRe.MatchString(n) {
			return badField("emergency_numbers", "invalid_emergency_number",
				"emergency number %q: want 2 to 6 digits (e.g. 911, 112, 999)", n)
		}
	}
	if p.EmergencyTrunk != "" && trunkNames != nil {
		i := slices.IndexFunc(trunkNames, func(n string) bool { return strings.EqualFold(n, p.EmergencyTrunk) })
		if i < 0 {
			return badField("emergency_trunk", "unknown_trunk", "emergency_trunk %q: no trunk has that name", p.EmergencyTrunk)
		}
		p.EmergencyTrunk = trunkNames[i]
	}
	p.InternationalAllow = dedupe(p.InternationalAllow)
	if len(p.InternationalAllow) > maxInternationalAllow {
		return badField("international_allow", "invalid_international_allow",
			"at most %d international prefixes", maxInternationalAllow)
	}
	for _, pre := range p.InternationalAllow {
		if !intlPrefixRe.MatchString(pre) {
			return badField("international_allow", "invalid_international_prefix",
				`international prefix %q: want "+" (everywhere) or + and 1 to 6 digits (e.g. +44)`, pre)
		}
	}
	if p.MaxOutboundCalls < 0 {
		return badField("max_outbound_calls", "invalid_max_outbound_calls",
			"max_outbound_calls must be 0 (no cap) or more")
	}
	return nil
}

// dedupe returns l without repeats, in first-seen order, never nil.
func dedupe(l []string) []string {
	out := make([]string, 0, len(l))
	for _, s := range l {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// CheckExtensionLength refuses, for the account's dial plan, extensions of
// other lengths than its extension_length (when that is set): callers
// could not dial them.
func CheckExtensionLength(ctx context.Context, st interface {
	GetDialPlan(ctx context.Context, account ident.AccountID) (*store.DialPlan, error)
}, account ident.AccountID, ext string) error {
	if ext == "" {
		return nil
	}
	p, err := st.GetDialPlan(ctx, account)
	if err != nil {
		return err
	}
	if p.ExtensionLength != 0 && len(ext) != p.ExtensionLength {
		return badField("extension", "invalid_extension",
			"extension %q must have %d digits (the dial plan's extension_length)", ext, p.ExtensionLength)
	}
	return nil
}

// CheckExtensionsFit refuses an extension_length that the account's
// existing users or ring groups do not have.
func CheckExtensionsFit(ctx context.Context, st store.Store, account ident.AccountID, length int) error {
	if length == 0 {
		return nil
	}
	var misfits []string
	for u, err := range pages(ctx, func(opt store.ListOptions) ([]store.User, bool, error) {
		return st.ListUsers(ctx, account, opt)
	}, func(u store.User) string { return string(u.ID) }) {
		if err != nil {
			return err
		}
		if len(u.Extension) != length {
			misfits = append(misfits, u.Extension)
		}
	}
	for g, err := range pages(ctx, func(opt store.ListOptions) ([]store.RingGroup, bool, error) {
		return st.ListRingGroups(ctx, account, opt)
	}, func(g store.RingGroup) string { return string(g.ID) }) {
		if err != nil {
			return err
		}
		if g.Extension != "" && len(g.Extension) != length {
			misfits = append(misfits, g.Extension)
		}
	}
	if len(misfits) == 0 {
		return nil
	}
	e := badField("extension_length", "extension_length_mismatch",
		"extension_length %d: the account has extensions of other lengths (%s); change them first",
		length, strings.Join(firstN(misfits, 5), ", "))
	e.Details["extensions"] = misfits
	return e
}

func firstN(l []string, n int) []string {
	if len(l) > n {
		return append(l[:n:n], "…")
	}
	return l
}

// pages yields every row of a paged listing.
func pages[T any](ctx context.Context, list func(store.ListOptions) ([]T, bool, error), id func(T) string) func(func(T, error) bool) {
	return func(yield func(T, error) bool) {
		opt := store.ListOptions{Limit: 200}
		for ctx.Err() == nil {
			rows, more, err := list(opt)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, r := range rows {
				if !yield(r, nil) {
					return
				}
			}
			if !more || len(rows) == 0 {
				return
			}
			opt.StartingAfter = id(rows[len(rows)-1])
		}
	}
}

// TrunkNames lists the stored trunks' names after the config file's.
func TrunkNames(ctx context.Context, st store.Trunks, config []string) ([]string, error) {
	names := append([]string{}, config...)
	for t, err := range pages(ctx, func(opt store.ListOptions) ([]store.Trunk, bool, error) {
		return st.ListTrunks(ctx, opt)
	}, func(t store.Trunk) string { return string(t.ID) }) {
		if err != nil {
			return nil, err
		}
		names = append(names, t.Name)
	}
	return names, nil
}

// requestAccount is the account a request names with ?account= (or
// ?account_id=), or the default account.
func (a *API) requestAccount(r *http.Request) (ident.AccountID, error) {
	q := r.URL.Query()
	id := q.Get("account")
	if id == "" {
		id = q.Get("account_id")
	}
	if id == "" {
		return a.DefaultAccount, nil
	}
	_, err := a.Store.GetAccount(r.Context(), ident.AccountID(id))
	if errors.Is(err, store.ErrNotFound) {
		return "", apiErr(http.StatusNotFound, "account_not_found", "no account %q", id)
	}
	return ident.AccountID(id), err
}

func (a *API) getDialPlan(r *http.Request) (int, any, error) {
	acct, err := a.requestAccount(r)
	if err != nil {
		return 0, nil, err
	}
	p, err := a.Store.GetDialPlan(r.Context(), acct)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, dialPlanView(p), nil
}

func (a *API) putDialPlan(r *http.Request) (int, any, error) {
	var in dialPlanInput
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	acct, err := a.requestAccount(r)
	if err != nil {
		return 0, nil, err
	}
	p, err := a.Store.GetDialPlan(r.Context(), acct)
	if err != nil {
		return 0, nil, err
	}
	oldLength := p.ExtensionLength
	in.apply(p)
	var names []string
	if in.EmergencyTrunk != nil {
		if names, err = TrunkNames(r.Context(), a.Store, a.ConfigTrunks); err != nil {
			return 0, nil, err
		}
	}
	if err := CheckDialPlan(p, names); err != nil {
		return 0, nil, err
	}
	if p.ExtensionLength != oldLength {
		if err := CheckExtensionsFit(r.Context(), a.Store, acct, p.ExtensionLength); err != nil {
			return 0, nil, err
		}
	}
	if err := a.Store.PutDialPlan(r.Context(), p); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, dialPlanView(p), nil
}
