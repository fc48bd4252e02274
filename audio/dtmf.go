package audio

import "strings"

// dtmfDigits are the DTMF digits in RFC 4733 event code order (§3.2):
// event n is dtmfDigits[n].
const dtmfDigits = "0123456789*#ABCD"

// DTMFEvent maps a DTMF digit (0-9, *, #, A-D or a-d) to its RFC 4733
// event code.
func DTMFEvent(r rune) (byte, bool) {
	if r >= 'a' && r <= 'd' {
		r -= 'a' - 'A'
	}
	i := strings.IndexRune(dtmfDigits, r)
	return byte(i), i >= 0
}

// DTMFDigit maps an RFC 4733 event code (0-15) to its DTMF digit, A-D in
// upper case.
func DTMFDigit(event byte) (rune, bool) {
	if int(event) >= len(dtmfDigits) {
		return 0, false
	}
	return rune(dtmfDigits[event]), true
}
