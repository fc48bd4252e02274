// Package emergency owns emergency (E911) locations: the civic address a
// user registers for a device, its validation, and the PIDF-LO document
// (RFC 4119, RFC 5139 civic elements, RFC 5491 profile) that carries it to
// an emergency trunk. It has no dependencies beyond the standard library;
// storage, REST and SIP live in their own packages.
package emergency

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Civic is a civic address as users enter it. Country is an ISO 3166
// alpha-2 code; State is the first-level division (a USPS code in the US).
type Civic struct {
	AddressNumber string `json:"address_number,omitempty"`
	Street        string `json:"street"`
	Unit          string `json:"unit,omitempty"`
	City          string `json:"city"`
	State         string `json:"state"`
	PostalCode    string `json:"postal_code"`
	Country       string `json:"country"`
}

// Location is an address bound to the network a device session comes from:
// what an emergency call carries.
type Location struct {
	AddressID string
	Civic
	// IP is the source address the address is bound to.
	IP      netip.Addr
	BoundAt time.Time
	// Device names the device session that bound it.
	Device string
}

// Field lengths (in characters). Generous for real addresses, small enough
// to keep a PIDF-LO well inside one UDP datagram.
const (
	maxAddressNumber = 20
	maxStreet        = 100
	maxUnit          = 32
	maxCity          = 64
	maxState         = 64
	maxPostalCode    = 16
)

// FieldError is one problem with one field of an address.
type FieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

var (
	usZIP = regexp.MustCompile(`^[0-9]{5}(-[0-9]{4})?$`)
	alpha = regexp.MustCompile(`^[A-Z]{2}$`)
)

// Check validates c and puts it in canonical form: fields trimmed, inner
// runs of spaces collapsed, country and (in the US) state upper-cased,
// country US when empty. It returns every problem, in field order; nil
// means c is valid.
func Check(c *Civic) []FieldError {
	var errs []FieldError
	bad := func(field, code, format string, a ...any) {
		errs = append(errs, FieldError{Field: field, Code: code, Message: fmt.Sprintf(format, a...)})
	}
	fields := []struct {
		name     string
		v        *string
		max      int
		required bool
	}{
		{"address_number", &c.AddressNumber, maxAddressNumber, false},
		{"street", &c.Street, maxStreet, true},
		{"unit", &c.Unit, maxUnit, false},
		{"city", &c.City, maxCity, true},
		{"state", &c.State, maxState, true},
		{"postal_code", &c.PostalCode, maxPostalCode, true},
		{"country", &c.Country, 2, false},
	}
	for _, f := range fields {
		*f.v = tidy(*f.v)
		switch n := utf8.RuneCountInString(*f.v); {
		case !printable(*f.v):
			bad(f.name, "invalid_characters", "must be printable text on one line")
		case n == 0 && f.required:
			bad(f.name, "required", "is required")
		case n > f.max && f.name != "country":
			bad(f.name, "too_long", "at most %d characters", f.max)
		}
	}
	if c.Country == "" {
		c.Country = "US"
	}
	c.Country = strings.ToUpper(c.Country)
	if !alpha.MatchString(c.Country) || !strings.Contains(iso3166, c.Country+" ") {
		bad("country", "invalid_country", "%q is not an ISO 3166 alpha-2 country code (e.g. US, CA, GB)", c.Country)
		return errs
	}
	if c.Country == "US" {
		checkUS(c, bad)
	}
	return errs
}

func checkUS(c *Civic, bad func(field, code, format string, a ...any)) {
	if s := strings.ToUpper(c.State); c.State != "" && printable(c.State) {
		if !alpha.MatchString(s) || !strings.Contains(usStates, s+" ") {
			bad("state", "invalid_state", "%q is not a US state code (two letters, e.g. CA, NY, DC)", c.State)
		} else {
			c.State = s
		}
	}
	if c.PostalCode != "" && printable(c.PostalCode) && !usZIP.MatchString(c.PostalCode) {
		bad("postal_code", "invalid_postal_code", "%q is not a US ZIP code (12345 or 12345-6789)", c.PostalCode)
	}
}

// tidy trims s and collapses inner runs of white space to one space.
func tidy(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// printable reports whether s is valid UTF-8 without control or format
// characters (so it fits in XML and in one line of a form).
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || !unicode.IsPrint(r) && r != ' ' {
			return false
		}
	}
	return true
}

// Formatted is the address on one line, as a person writes it:
// "123 Main St, Apt 4, Springfield, IL 62701, US".
func (c Civic) Formatted() string {
	street := strings.TrimSpace(c.AddressNumber + " " + c.Street)
	parts := []string{street}
	if c.Unit != "" {
		parts = append(parts, c.Unit)
	}
	parts = append(parts, c.City, strings.TrimSpace(c.State+" "+c.PostalCode), c.Country)
	out := parts[:0]
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, ", ")
}

// usStates are the USPS codes of the states, DC, territories and military
// "states", each followed by a space.
const usStates = "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY " +
	"NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI UM FM MH PW AA AE AP "

// iso3166 are the ISO 3166-1 alpha-2 codes, each followed by a space.
const iso3166 = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS " +
	"BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER " +
	"ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE " +
	"IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA " +
	"MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM " +
	"PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR " +
	"SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU " +
	"WF WS YE YT ZA ZM ZW "
