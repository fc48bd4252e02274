package sipua

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/textproto"

	"github.com/emiago/sipgo/sip"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/emergency"
	"github.com/switchboard-voice/switchboard/internal/ident"
)

// setBody puts the offer in req: alone as application/sdp, or, for an
// emergency call whose caller bound an address, in a multipart/mixed body
// with the location as a PIDF-LO, which the Geolocation header points at
// (RFC 6442 §4.1; bodies per RFC 5621). Geolocation-Routing: yes lets the
// trunk and the PSAP route on it (RFC 6442 §4.2). entity is the caller's
// URI, as From shows it.
func (p *trunkCall) setBody(req *sip.Request, offer, entity string, loc *emergency.Location) {
	if loc != nil {
		cid := ident.Short() + ident.Short() + "@" + p.ua.host()
		ctype, body, err := withLocation(offer, loc, entity, cid)
		if err == nil {
			req.SetBody(body)
			req.AppendHeader(sip.NewHeader("Content-Type", ctype))
			req.AppendHeader(sip.NewHeader("Geolocation", "<cid:"+cid+">"))
			req.AppendHeader(sip.NewHeader("Geolocation-Routing", "yes"))
			return
		}
		// The call must go out anyway: the carrier falls back to the
		// account's registered address.
		p.ua.log.Error("sip: emergency call without its location", "err", err)
	}
	req.SetBody([]byte(offer))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
}

// withLocation builds the multipart/mixed body of SDP and PIDF-LO (whose
// part has Content-ID <cid>) and returns its Content-Type.
func withLocation(offer string, loc *emergency.Location, entity, cid string) (string, []byte, error) {
	doc, err := emergency.BuildPIDF(emergency.PIDF{Entity: entity, Device: loc.Device, Civic: loc.Civic, Timestamp: loc.BoundAt})
	if err != nil {
		return "", nil, err
	}
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	parts := []struct {
		h    textproto.MIMEHeader
		body []byte
	}{
		{textproto.MIMEHeader{"Content-Type": {"application/sdp"}}, []byte(offer)},
		{textproto.MIMEHeader{"Content-Type": {emergency.ContentType}, "Content-ID": {"<" + cid + ">"}}, doc},
	}
	for _, part := range parts {
		pw, err := w.CreatePart(part.h)
		if err != nil {
			return "", nil, err
		}
		if _, err := pw.Write(part.body); err != nil {
			return "", nil, err
		}
	}
	if err := w.Close(); err != nil {
		return "", nil, fmt.Errorf("multipart body: %w", err)
	}
	return "multipart/mixed;boundary=" + w.Boundary(), b.Bytes(), nil
}

// locationFor is the location the INVITE to t carries. An INVITE with a
// PIDF-LO is about 2 KB, and past 1300 bytes a request must not go over
// UDP (RFC 3261 §18.1.1: IP fragments get lost, and with them the
// emergency call), so over a UDP trunk the call goes out without it and
// the carrier falls back to the account's registered address.
func (p *trunkCall) locationFor(t *trunk) *emergency.Location {
	if p.location == nil {
		return nil
	}
	if t.Network() == "udp" {
		p.ua.log.Warn("sip: emergency call sent without its PIDF-LO: the trunk is UDP (give it transport tcp or tls)",
			"trunk", t.Name)
		return nil
	}
	return p.location
}

// emergencyLocation is the location an outgoing trunk call carries: only
// an emergency call's.
func emergencyLocation(req call.TrunkRequest) *emergency.Location {
	if !req.Emergency {
		return nil
	}
	return req.Location
}
