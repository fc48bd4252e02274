package sipua

import (
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// supportedExtensions are the option tags we implement (RFC 3261 §8.2.2.3:
// a Require naming anything else is answered 420).
var supportedExtensions = map[string]bool{"replaces": true}

// allowMethods is our Allow header value.
const allowMethods = "INVITE, ACK, CANCEL, BYE, REGISTER, OPTIONS, INFO, REFER, SUBSCRIBE"

// rejection is how a malformed or unsupported request is answered: a
// status, a reason phrase that names the problem, and extra headers.
type rejection struct {
	status  int
	reason  string
	headers []sip.Header
}

// checkRequest applies RFC 3261 §8.2's checks before any handler sees the
// request, so that handlers can rely on the headers every request has. It
// returns nil for a request that may go on. The checks follow the order
// of §8.2: method, header presence and consistency (§8.1.1), URI scheme
// (§8.2.2.1), then extensions (§8.2.2.3).
func checkRequest(req *sip.Request) *rejection {
	if req.SipVersion != "SIP/2.0" { // RFC 3261 §21.5.7
		return &rejection{status: 505, reason: "Version Not Supported"}
	}
	for _, name := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
		switch n := len(req.GetHeaders(name)); {
		case n == 0:
			return &rejection{status: 400, reason: "Missing " + name + " Header"}
		case n > 1 && name != "Via":
			return &rejection{status: 400, reason: "Multiple " + name + " Headers"}
		}
	}
	if req.CallID().Value() == "" {
		return &rejection{status: 400, reason: "Empty Call-ID Header"}
	}
	// sipgo upper-cases the Request-Line's method, not CSeq's.
	if cseq := req.CSeq(); !strings.EqualFold(string(cseq.MethodName), string(req.Method)) {
		return &rejection{status: 400, reason: "CSeq Method Does Not Match"}
	}
	if r := checkContentLength(req); r != nil {
		return r
	}
	if mf := req.MaxForwards(); mf != nil && *mf == 0 && req.Method == sip.INVITE {
		// We would place the call onwards (RFC 3261 §16.3 step 3); other
		// requests end here, and are answered (RFC 4475 §3.3.11).
		return &rejection{status: 483, reason: "Too Many Hops"}
	}
	switch strings.ToLower(req.Recipient.Scheme) {
	case "sip", "sips", "tel":
	default:
		return &rejection{status: 416, reason: "Unsupported URI Scheme"} // §8.2.2.1
	}
	if req.Method == sip.ACK || req.Method == sip.CANCEL {
		return nil // §8.2.2.3: Require is not checked for ACK and CANCEL
	}
	if unknown := unsupportedRequire(req); unknown != "" {
		return &rejection{status: 420, reason: "Bad Extension", headers: []sip.Header{sip.NewHeader("Unsupported", unknown)}}
	}
	return nil
}

// checkContentLength refuses a request whose Content-Length is repeated,
// not a number, or disagrees with its body (RFC 3261 §18.3, §20.14).
func checkContentLength(req *sip.Request) *rejection {
	hs := req.GetHeaders("Content-Length")
	if len(hs) > 1 {
		return &rejection{status: 400, reason: "Multiple Content-Length Headers"}
	}
	if len(hs) == 0 {
		return nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(hs[0].Value()))
	if err != nil || n < 0 {
		return &rejection{status: 400, reason: "Bad Content-Length"}
	}
	if n != len(req.Body()) {
		return &rejection{status: 400, reason: "Content-Length Does Not Match Body"}
	}
	return nil
}

// unsupportedRequire returns the option tags of Require we do not know,
// comma-separated, or "".
func unsupportedRequire(req *sip.Request) string {
	var unknown []string
	for _, h := range req.GetHeaders("Require") {
		for _, tag := range strings.Split(h.Value(), ",") {
			tag = strings.ToLower(strings.TrimSpace(tag))
			if tag != "" && !supportedExtensions[tag] {
				unknown = append(unknown, tag)
			}
		}
	}
	return strings.Join(unknown, ", ")
}
