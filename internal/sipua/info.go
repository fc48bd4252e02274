package sipua

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emiago/sipgo/sip"
)

// defaultInfoDuration is a digit's length when an INFO does not say.
const defaultInfoDuration = 160 * time.Millisecond

// infoTypes are the INFO bodies we understand: DTMF as sent by phones that
// do not use RFC 4733 (legacy INFO usage, no Info-Package; RFC 6086 §9).
const infoTypes = "application/dtmf-relay, application/dtmf"

// handleInfo takes in-dialog INFO requests. DTMF (application/dtmf-relay:
// "Signal=5\r\nDuration=160"; application/dtmf: "5") is answered 200 and
// reaches the other party as RFC 4733 events. A body of another type is
// answered 415 with Accept listing ours (RFC 6086 §4.2.2: a UA that does
// not support the body's type answers 415); an INFO without a body (some
// phones' keepalive) gets 200.
func (u *UA) handleInfo(r *responder) {
	p := u.lookup(r.req)
	if p == nil {
		r.respond(481, "Call/Transaction Does Not Exist", nil)
		return
	}
	body := strings.TrimSpace(string(r.req.Body()))
	if body == "" {
		r.respond(200, "OK", nil)
		return
	}
	ctype := ""
	if h := r.req.ContentType(); h != nil {
		ctype, _, _ = strings.Cut(strings.ToLower(strings.TrimSpace(h.Value())), ";")
		ctype = strings.TrimSpace(ctype)
	}
	if ctype != "application/dtmf-relay" && ctype != "application/dtmf" {
		r.respond(415, "Unsupported Media Type", nil, sip.NewHeader("Accept", infoTypes))
		return
	}
	digit, duration, ok := parseDTMFInfo(body)
	if !ok {
		r.respond(400, "Bad Request", nil)
		return
	}
	r.respond(200, "OK", nil)
	remote, key := p.party()
	if remote != nil {
		remote.Digit(key, digit, duration)
	}
}

// parseDTMFInfo reads a DTMF INFO body: "Signal=<digit>" with an optional
// "Duration=<ms>" line (dtmf-relay), or the bare digit (application/dtmf).
// Signal=10 and 11, which some phones send, are * and #.
func parseDTMFInfo(body string) (rune, time.Duration, bool) {
	signal, duration := "", defaultInfoDuration
	if !strings.Contains(body, "=") {
		signal = body
	}
	for _, line := range strings.Split(body, "\n") {
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "signal":
			signal = value
		case "duration":
			if ms, err := strconv.Atoi(value); err == nil && ms > 0 {
				duration = time.Duration(ms) * time.Millisecond
			}
		}
	}
	switch signal {
	case "10":
		signal = "*"
	case "11":
		signal = "#"
	}
	r, size := utf8.DecodeRuneInString(signal)
	if size == 0 || size != len(signal) {
		return 0, 0, false
	}
	if !strings.ContainsRune("0123456789*#ABCDabcd", r) {
		return 0, 0, false
	}
	return r, duration, true
}
