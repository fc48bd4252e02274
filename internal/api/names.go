package api

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// isBidiControl reports the Unicode bidirectional formatting characters:
// the embeddings and overrides U+202A–U+202E, the isolates U+2066–U+2069
// and the marks U+200E, U+200F and U+061C. In a display name they reorder
// what is shown next to it (a caller ID that reads as another number:
// the "Trojan Source" trick, CVE-2021-42574).
func isBidiControl(r rune) bool {
	switch {
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x200E, r == 0x200F, r == 0x061C:
		return true
	}
	return false
}

// badNameRune is a character no display name may hold: control characters,
// line and paragraph separators, and bidi controls.
func badNameRune(r rune) bool {
	return unicode.IsControl(r) || r == 0x2028 || r == 0x2029 || isBidiControl(r)
}

// checkName validates a display name (users, ring groups): 1 to 100 bytes
// of valid UTF-8 once trimmed, without control or bidi characters.
// field is the JSON field named in the error.
func checkName(field, name string) error {
	bad := func(format string, args ...any) error {
		return badField(field, "invalid_name", format, args...)
	}
	switch {
	case !utf8.ValidString(name):
		return bad("%s must be valid UTF-8", field)
	case strings.ContainsFunc(name, isBidiControl):
		return bad("%s must not contain bidirectional control characters (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C)", field)
	case strings.ContainsFunc(name, badNameRune):
		return bad("%s must not contain control characters", field)
	case strings.TrimSpace(name) == "" || len(name) > 100:
		return bad("%s must be 1 to 100 printable characters", field)
	}
	return nil
}
