package sipua

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Where sipgo's parser disagrees with RFC 3261 as RFC 4475 tests it, we
// wrap it here rather than fork it (docs/adr/0002-sip-transport-guards.md):
//
//   - From and To values are given LWS-free parameters (RFC 3261 §25.1:
//     "tag = x" is "tag=x"), and a From without a tag gets a stable one
//     derived from the header (RFC 2543 clients send none; sipgo cannot key
//     their transactions without it).
//   - An addr-spec outside <> may not carry "?" headers (§20: such a URI
//     must be enclosed): such a Contact, From or To is a parse error.
//   - A UDP datagram is cut at the end of its first message (§18.3: bytes
//     past Content-Length are discarded), and one that does not parse is
//     answered 400 (505 for another SIP version, 416 for a Request-URI
//     scheme we do not serve) when it is a request with the headers a
//     response needs, rather than dropped in silence.

// newParser returns sipgo's parser with our header parser wrappers.
func newParser() *sip.Parser {
	parsers := sip.HeadersParser{}
	for name, p := range sip.DefaultHeadersParser() {
		parsers[name] = p
	}
	for _, name := range []string{"from", "f"} {
		parsers[name] = nameAddrParser(parsers[name], true)
	}
	for _, name := range []string{"to", "t", "contact", "m"} {
		parsers[name] = nameAddrParser(parsers[name], false)
	}
	return sip.NewParser(sip.WithHeadersParsers(parsers))
}

var (
	errUnenclosedHeaders = errors.New("sip: an addr-spec with headers must be enclosed in <>")
	errBadDisplayName    = errors.New("sip: an unquoted display name must be tokens (RFC 3261 §25.1)")
)

// tokenDisplayName checks the display name before "<" of a name-addr: a
// quoted string, or words of token characters (RFC 3261 §25.1: "Bell,
// Alexander" needs quotes).
func tokenDisplayName(v string) bool {
	i := strings.IndexByte(v, '<')
	if i < 0 {
		return true
	}
	name := strings.TrimSpace(v[:i])
	if name == "" || name[0] == '"' {
		return true
	}
	for _, c := range name {
		if !(c == ' ' || c == '\t' || isTokenChar(c)) {
			return false
		}
	}
	return true
}

func isTokenChar(c rune) bool {
	return c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.ContainsRune("-.!%*_+`'~", c))
}

// nameAddrParser wraps a From/To/Contact parser: parameters lose their LWS,
// and (for From, when tagless) gain a derived tag.
func nameAddrParser(next sip.HeaderParser, from bool) sip.HeaderParser {
	return func(name []byte, value string) (sip.Header, error) {
		if !strings.Contains(value, "<") && strings.Contains(value, "?") {
			return nil, errUnenclosedHeaders
		}
		if !tokenDisplayName(value) {
			return nil, errBadDisplayName
		}
		value = tightParams(value)
		h, err := next(name, value)
		if err != nil || !from {
			return h, err
		}
		if f, ok := h.(*sip.FromHeader); ok {
			if _, has := f.Params.Get("tag"); !has {
				sum := sha256.Sum256([]byte(value))
				f.Params.Add("tag", "rfc2543-"+hex.EncodeToString(sum[:6]))
			}
		}
		return h, nil
	}
}

// tightParams removes LWS around ";" and "=" outside quoted strings and
// <>, so sipgo's parameter parser sees "a;tag=x" for "a ; tag = x".
func tightParams(v string) string {
	if !strings.ContainsAny(v, " \t") {
		return v
	}
	var b strings.Builder
	quoted, angle := false, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case quoted:
			if c == '\\' && i+1 < len(v) {
				b.WriteByte(c)
				i++
				c = v[i]
			} else if c == '"' {
				quoted = false
			}
		case c == '"':
			quoted = true
		case c == '<':
			angle = true
		case c == '>':
			angle = false
		case !angle && (c == ';' || c == '='):
			s := b.String()
			b.Reset()
			b.WriteString(strings.TrimRight(s, " \t"))
			b.WriteByte(c)
			for i+1 < len(v) && (v[i+1] == ' ' || v[i+1] == '\t') {
				i++
			}
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// frameDatagram returns a UDP datagram's first message: headers, then as
// many body bytes as Content-Length says (all the rest without one).
// A Content-Length beyond the datagram is left for the parser to refuse.
func frameDatagram(data []byte) []byte {
	end := bytes.Index(data, []byte("\r\n\r\n"))
	if end < 0 {
		return data
	}
	end += 4
	n, ok := rawContentLength(data[:end])
	if !ok || n < 0 || end+n > len(data) {
		return data
	}
	return data[:end+n]
}

// rawContentLength finds Content-Length (or l) in a header section.
func rawContentLength(head []byte) (int, bool) {
	for _, line := range rawHeaderLines(head) {
		name, v, _ := strings.Cut(line, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "content-length", "l":
			n, err := strconv.Atoi(strings.TrimSpace(v))
			return n, err == nil
		}
	}
	return 0, false
}

// rawHeaderLines splits a header section into unfolded header lines
// (RFC 3261 §7.3.1), start line excluded.
func rawHeaderLines(head []byte) []string {
	lines := strings.Split(strings.ReplaceAll(string(head), "\r\n", "\n"), "\n")
	var out []string
	for _, l := range lines[min(1, len(lines)):] {
		if l == "" {
			break
		}
		if (l[0] == ' ' || l[0] == '\t') && len(out) > 0 {
			out[len(out)-1] += " " + strings.TrimSpace(l)
			continue
		}
		out = append(out, l)
	}
	return out
}

// compactNames maps compact header names to the full ones a response
// needs (RFC 3261 §7.3.3).
var compactNames = map[string]string{"v": "via", "f": "from", "t": "to", "i": "call-id"}

var uriScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)

// rawErrorResponse builds the answer to a request sipgo could not parse:
// 505 for another version, 416 for an unserved Request-URI scheme, else
// 400 naming the parse error. It copies Via, From, To, Call-ID and CSeq as
// they came (a To tag is added, §8.2.6.2) and marks the top Via with the
// source (§18.2.1). It returns nil when data is not a request or lacks
// any of those headers: no response can reach its sender then.
func rawErrorResponse(data []byte, src string, parseErr error) []byte {
	end := bytes.Index(data, []byte("\r\n\r\n"))
	if end < 0 {
		return nil
	}
	head := data[:end+2]
	first, _, _ := strings.Cut(string(head), "\r\n")
	parts := strings.Fields(first)
	if len(parts) < 3 || strings.HasPrefix(parts[0], "SIP/") || !strings.HasPrefix(parts[len(parts)-1], "SIP/") {
		return nil
	}
	status, reason := 400, "Bad Request"
	uri := strings.TrimSpace(parts[1])
	switch {
	case parts[len(parts)-1] != "SIP/2.0":
		status, reason = 505, "Version Not Supported"
	case len(parts) == 3 && uriScheme.MatchString(uri) && !knownURIScheme(uri):
		status, reason = 416, "Unsupported URI Scheme"
	}
	found := map[string][]string{}
	for _, line := range rawHeaderLines(head) {
		name, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n := strings.ToLower(strings.TrimSpace(name))
		if full, ok := compactNames[n]; ok {
			n = full
		}
		found[n] = append(found[n], strings.TrimSpace(v))
	}
	for _, n := range []string{"via", "from", "to", "call-id", "cseq"} {
		if len(found[n]) == 0 {
			return nil
		}
	}
	var b bytes.Buffer
	b.WriteString("SIP/2.0 " + strconv.Itoa(status) + " " + reason + "\r\n")
	ip := host(src)
	for i, v := range found["via"] {
		if i == 0 {
			v += ";received=" + ip
		}
		b.WriteString("Via: " + v + "\r\n")
	}
	b.WriteString("From: " + found["from"][0] + "\r\n")
	to := found["to"][0]
	if !strings.Contains(strings.ToLower(to), "tag=") {
		to += ";tag=" + sip.GenerateTagN(16)
	}
	b.WriteString("To: " + to + "\r\n")
	b.WriteString("Call-ID: " + found["call-id"][0] + "\r\n")
	b.WriteString("CSeq: " + found["cseq"][0] + "\r\n")
	b.WriteString("Server: " + userAgent + "\r\n")
	if status == 400 {
		b.WriteString("Warning: 399 - \"" + warningText(parseErr) + "\"\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.Bytes()
}

func knownURIScheme(uri string) bool {
	scheme, _, _ := strings.Cut(strings.ToLower(uri), ":")
	return scheme == "sip" || scheme == "sips" || scheme == "tel"
}

// warningText makes a parse error safe for a quoted Warning text.
func warningText(err error) string {
	s := "malformed message"
	if err != nil {
		s = err.Error()
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == '"' || r == '\\' || r > 0x7e {
			return ' '
		}
		return r
	}, s)
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

// answerUnparsable sends rawErrorResponse to the datagram's source.
func (u *UA) answerUnparsable(data []byte, src net.Addr, parseErr error) {
	res := rawErrorResponse(data, src.String(), parseErr)
	if res == nil || u.udp == nil {
		return
	}
	if _, err := u.udp.WriteTo(res, src); err != nil {
		u.metrics.writeError()
	}
}
