package route

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/switchboard-voice/switchboard/internal/store"
)

// emergencyRe bounds what may be treated as an emergency number: it is
// sent to the trunk as dialled, so it must be as harmless as an extension.
var emergencyRe = regexp.MustCompile(`^[0-9]{2,15}$`)

// EmergencyShaped reports whether num has the shape an emergency number
// may have (digits only, 2 to 15): what a trunk may be sent as dialled.
func EmergencyShaped(num string) bool { return emergencyRe.MatchString(num) }

// isEmergency reports whether dialled is exactly one of plan's emergency
// numbers.
func isEmergency(dialled string, plan *store.DialPlan) bool {
	return emergencyRe.MatchString(dialled) && slices.Contains(plan.EmergencyNumbers, dialled)
}

// Normalise classifies dialled under plan (nil: store.DefaultDialPlan's
// rules). It returns one of:
//   - KindEmergency: dialled is exactly one of plan.EmergencyNumbers;
//   - KindExtension: 2–8 digits, exactly plan.ExtensionLength of them when
//     that is set;
//   - KindFeatureCode: as Parse;
//   - KindE164: an E.164 number as dialled, or a national number (Parse's
//     KindNational) put in E.164 for plan.Country.
//
// Errors wrap ErrInvalidDestination and say in words a caller understands
// what is wrong.
func Normalise(dialled string, plan *store.DialPlan) (Destination, error) {
	d, _, err := normalise(dialled, plan)
	return d, err
}

// normalise is Normalise that also says, for a national number, how it
// was read (for Plan.Explain).
func normalise(dialled string, plan *store.DialPlan) (Destination, string, error) {
	if plan == nil {
		plan = store.DefaultDialPlan("")
	}
	if isEmergency(dialled, plan) {
		return Destination{Kind: KindEmergency, Number: dialled}, "", nil
	}
	d, err := Parse(dialled)
	if err != nil {
		return Destination{}, "", err
	}
	switch d.Kind {
	case KindExtension:
		if n := plan.ExtensionLength; n > 0 && len(d.Number) != n {
			return Destination{}, "", fmt.Errorf("%w: %s has %d digits, but this account's extensions have %d",
				ErrInvalidDestination, d.Number, len(d.Number), n)
		}
	case KindNational:
		e, how, err := national(d.Number, plan.Country)
		if err != nil {
			return Destination{}, "", err
		}
		return Destination{Kind: KindE164, Number: e}, how, nil
	}
	return d, "", nil
}

// national turns digits (9–19 of them) dialled in country code into E.164:
// after an international prefix they are an international number, else a
// national one, with or without the trunk prefix as the country dials it.
func national(digits, code string) (e164, how string, err error) {
	bad := func(format string, a ...any) (string, string, error) {
		return "", "", fmt.Errorf("%w: %s: "+format, append([]any{ErrInvalidDestination, digits}, a...)...)
	}
	if code == "" {
		return bad("the account's dial plan has no country, so numbers must be dialled as +country code and number")
	}
	c, ok := countries[code]
	if !ok {
		return bad("the dial plan's country %q is not one Switchboard knows; dial the number as +country code and number", code)
	}
	for _, p := range c.intl {
		rest, ok := strings.CutPrefix(digits, p)
		if !ok {
			continue
		}
		if !ValidE164("+" + rest) {
			return bad("after the international prefix %s, %s is not a valid international number", p, rest)
		}
		return "+" + rest, fmt.Sprintf("international prefix %s, country %s", p, code), nil
	}
	nsn := digits
	switch rest, ok := strings.CutPrefix(digits, c.trunk); {
	case c.trunk == "":
	case ok:
		nsn = rest
	case !c.trunkOptional:
		return bad("numbers in %s are dialled with the trunk prefix %s (or %s and the country code for international ones)",
			code, c.trunk, c.intl[0])
	}
	switch {
	case len(nsn) < c.min || len(nsn) > c.max:
		if c.trunk != "" {
			return bad("numbers in %s have %s digits after the trunk prefix %s", code, c.lengths(), c.trunk)
		}
		return bad("numbers in %s have %s digits", code, c.lengths())
	case c.trunk == "0" && nsn[0] == '0':
		return bad("not a number in %s", code)
	case c.nanp && (nsn[0] < '2' || nsn[0] > '9'):
		return bad("area codes in %s start with 2 to 9", code)
	}
	e164 = "+" + c.code + nsn
	if !ValidE164(e164) {
		return bad("%s is too long for a phone number", e164)
	}
	return e164, "national number, country " + code, nil
}
