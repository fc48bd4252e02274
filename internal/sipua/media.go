package sipua

import (
	"strings"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/ident"
)

// srtpLeg is RTP media that can do SDES-SRTP (media.RTPEndpoint).
type srtpLeg interface {
	SetSRTP(offer, require bool)
	SRTPRefused() bool
}

// srtpPolicy secures a TLS phone's RTP media: SRTP is offered (SDES keys
// travel in the SDP, RFC 4568 §8.3, so only over TLS), and required with
// sip.tls_require_srtp. Other transports keep plain RTP offers; SRTP
// offers are answered on any transport.
func (u *UA) srtpPolicy(lm call.LegMedia, transport string) {
	if s, ok := lm.(srtpLeg); ok && strings.EqualFold(transport, "tls") {
		s.SetSRTP(true, u.Registrar.cfg.TLSRequireSRTP)
	}
}

// sipMedia makes a SIP party's media endpoint: WebRTC for a browser on
// WS/WSS, plain RTP (watched for silence) otherwise.
func sipMedia(w *rtpWatch, transport string, m call.Media, id ident.LegID) (call.LegMedia, error) {
	if isWebSocket(transport) {
		return m.NewWebRTC(id)
	}
	return w.newMedia(m, id)
}

// mediaOver makes the party's media for a dialog over transport: WebRTC
// for a browser on WS/WSS, RTP otherwise (offering SRTP over TLS).
func (p *sipParty) mediaOver(transport string, m call.Media, id ident.LegID) (call.LegMedia, error) {
	lm, err := sipMedia(&p.watch, transport, m, id)
	p.ua.srtpPolicy(lm, transport)
	return lm, err
}
