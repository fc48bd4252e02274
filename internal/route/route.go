// Package route turns what a caller dialled into a routing plan: it owns the
// dial string grammar (extensions, E.164 and national numbers, feature codes),
// national number normalisation by country, and the planner that picks
// users, ring groups, follow-me steps and trunks. The grammar is strict so no
// browser-supplied string can smuggle anything into a SIP header or URI.
package route

import (
	"errors"
	"fmt"
	"regexp"
)

// Kind is the class of a destination.
type Kind int

// Destination kinds.
const (
	KindUnknown Kind = iota
	KindExtension
	KindE164
	KindFeatureCode
	// KindNational is 9–19 plain digits: a national number, or an
	// international one after the country's international prefix (up to
	// 4 digits before up to 15), that Normalise turns into E.164 with the
	// account's dial plan.
	KindNational
	// KindEmergency is one of a dial plan's emergency numbers. Only
	// Normalise returns it: Parse knows no dial plan.
	KindEmergency
)

func (k Kind) String() string {
	switch k {
	case KindExtension:
		return "extension"
	case KindE164:
		return "e164"
	case KindFeatureCode:
		return "feature_code"
	case KindNational:
		return "national"
	case KindEmergency:
		return "emergency"
	}
	return "unknown"
}

// Destination is a parsed dial string.
type Destination struct {
	Kind Kind
	// Number is canonical: digits for extensions, national and emergency
	// numbers, +digits for E.164, as dialled for feature codes.
	Number string
}

// ErrInvalidDestination is wrapped by Parse and Normalise errors.
var ErrInvalidDestination = errors.New("invalid destination")

var (
	extensionRe = regexp.MustCompile(`^[0-9]{2,8}$`)
	nationalRe  = regexp.MustCompile(`^[0-9]{9,19}$`)
	e164Re      = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	featureRe   = regexp.MustCompile(`^[*#][0-9*#]{1,15}$`)
)

// Parse classifies s. It accepts nothing but digits, one leading "+" for
// E.164, and "*"/"#" for feature codes: 2–8 digits are an extension, 9–19 a
// national number.
func Parse(s string) (Destination, error) {
	switch {
	case extensionRe.MatchString(s):
		return Destination{Kind: KindExtension, Number: s}, nil
	case nationalRe.MatchString(s):
		return Destination{Kind: KindNational, Number: s}, nil
	case e164Re.MatchString(s):
		return Destination{Kind: KindE164, Number: s}, nil
	case featureRe.MatchString(s):
		return Destination{Kind: KindFeatureCode, Number: s}, nil
	}
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return Destination{}, fmt.Errorf("%w: %q is not an extension, a phone number or a feature code", ErrInvalidDestination, s)
}

// ValidE164 reports whether s is an E.164 number.
func ValidE164(s string) bool { return e164Re.MatchString(s) }
