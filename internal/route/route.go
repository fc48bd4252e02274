// Package route turns what a caller dialled into a routing target:
// extensions, E.164 numbers and feature codes, with a strict grammar so no
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
)

func (k Kind) String() string {
	switch k {
	case KindExtension:
		return "extension"
	case KindE164:
		return "e164"
	case KindFeatureCode:
		return "feature_code"
	}
	return "unknown"
}

// Destination is a parsed dial string.
type Destination struct {
	Kind   Kind
	Number string // canonical: digits for extensions, +digits for E.164, as dialled for feature codes
}

// ErrInvalidDestination is wrapped by Parse errors.
var ErrInvalidDestination = errors.New("invalid destination")

var (
	extensionRe = regexp.MustCompile(`^[0-9]{2,8}$`)
	e164Re      = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	featureRe   = regexp.MustCompile(`^[*#][0-9*#]{1,15}$`)
)

// Parse classifies s. It accepts nothing but digits, one leading "+" for
// E.164, and "*"/"#" for feature codes.
func Parse(s string) (Destination, error) {
	switch {
	case extensionRe.MatchString(s):
		return Destination{Kind: KindExtension, Number: s}, nil
	case e164Re.MatchString(s):
		return Destination{Kind: KindE164, Number: s}, nil
	case featureRe.MatchString(s):
		return Destination{Kind: KindFeatureCode, Number: s}, nil
	}
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return Destination{}, fmt.Errorf("%w: %q is not an extension, an E.164 number or a feature code", ErrInvalidDestination, s)
}

// ValidE164 reports whether s is an E.164 number.
func ValidE164(s string) bool { return e164Re.MatchString(s) }
