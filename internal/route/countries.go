package route

import (
	"slices"
	"strconv"
)

// country is how numbers are dialled in one country (ITU-T E.164 national
// numbering plans, simplified to what a PBX dial plan needs).
type country struct {
	code string // calling code, without "+"
	// intl are the international prefixes ("00", "011"), longest first
	// where one is a prefix of another.
	intl []string
	// trunk is the national trunk prefix dialled before a national
	// significant number ("0"); empty where there is none (ES, IT, …).
	trunk string
	// trunkOptional accepts the national significant number without the
	// trunk prefix too (NANP "1", Indian mobiles).
	trunkOptional bool
	// min and max bound the length of the national significant number.
	min, max int
	// nanp: the area code starts with 2–9 (NANP numbering plan).
	nanp bool
}

// countries are the countries Normalise knows, by ISO 3166 alpha-2 code.
// Countries whose national numbers are 8 digits or fewer (DK, NO, SG, …)
// are left out: such numbers would be dialled as extensions.
var countries = map[string]country{
	"US": {code: "1", intl: []string{"011"}, trunk: "1", trunkOptional: true, min: 10, max: 10, nanp: true},
	"CA": {code: "1", intl: []string{"011"}, trunk: "1", trunkOptional: true, min: 10, max: 10, nanp: true},
	"GB": {code: "44", intl: []string{"00"}, trunk: "0", min: 7, max: 10},
	"DE": {code: "49", intl: []string{"00"}, trunk: "0", min: 6, max: 13},
	"FR": {code: "33", intl: []string{"00"}, trunk: "0", min: 9, max: 9},
	"NL": {code: "31", intl: []string{"00"}, trunk: "0", min: 9, max: 9},
	"BE": {code: "32", intl: []string{"00"}, trunk: "0", min: 8, max: 9},
	"CH": {code: "41", intl: []string{"00"}, trunk: "0", min: 9, max: 9},
	"AT": {code: "43", intl: []string{"00"}, trunk: "0", min: 4, max: 13},
	"IE": {code: "353", intl: []string{"00"}, trunk: "0", min: 7, max: 9},
	"SE": {code: "46", intl: []string{"00"}, trunk: "0", min: 7, max: 10},
	"ES": {code: "34", intl: []string{"00"}, min: 9, max: 9},
	"PT": {code: "351", intl: []string{"00"}, min: 9, max: 9},
	"PL": {code: "48", intl: []string{"00"}, min: 9, max: 9},
	// Italian numbers keep their leading 0 after +39 (fixed lines).
	"IT": {code: "39", intl: []string{"00"}, min: 6, max: 11},
	"AU": {code: "61", intl: []string{"0011"}, trunk: "0", min: 9, max: 9},
	"NZ": {code: "64", intl: []string{"00"}, trunk: "0", min: 8, max: 10},
	"JP": {code: "81", intl: []string{"010"}, trunk: "0", min: 9, max: 10},
	"IN": {code: "91", intl: []string{"00"}, trunk: "0", trunkOptional: true, min: 10, max: 10},
	"ZA": {code: "27", intl: []string{"00"}, trunk: "0", min: 9, max: 9},
	"MX": {code: "52", intl: []string{"00"}, min: 10, max: 10},
}

// KnownCountry reports whether code is a country the normaliser knows.
// Codes are ISO 3166 alpha-2 in upper case ("GB", not "gb").
func KnownCountry(code string) bool {
	_, ok := countries[code]
	return ok
}

// KnownCountries returns the codes KnownCountry accepts, sorted (for
// error messages that list them).
func KnownCountries() []string {
	out := make([]string, 0, len(countries))
	for c := range countries {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// lengths says how many digits a national significant number has.
func (c country) lengths() string {
	if c.min == c.max {
		return strconv.Itoa(c.min)
	}
	return strconv.Itoa(c.min) + " to " + strconv.Itoa(c.max)
}
