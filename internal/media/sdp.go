package media

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/switchboard-voice/switchboard/audio"
)

// SDP for plain RTP legs (RFC 4566, offer/answer per RFC 3264, events per
// RFC 4733). Descriptions are parsed with pion/sdp and written by hand: one
// audio stream, session-level c=, CRLF line endings.

// Directions, as written in SDP.
const (
	dirSendRecv = "sendrecv"
	dirSendOnly = "sendonly"
	dirRecvOnly = "recvonly"
	dirInactive = "inactive"
)

// sdpFormat is one payload type of an m=audio line, with its rtpmap applied.
type sdpFormat struct {
	pt       uint8
	name     string // encoding name as written ("PCMU", "opus")
	clock    uint32
	channels string
}

func (f sdpFormat) String() string {
	if f.name == "" {
		return "pt " + strconv.Itoa(int(f.pt))
	}
	s := f.name + "/" + strconv.FormatUint(uint64(f.clock), 10)
	if f.channels != "" {
		s += "/" + f.channels
	}
	return s
}

// codec returns the audio codec f carries, if supported.
func (f sdpFormat) codec() (audio.Codec, bool) {
	switch {
	case strings.EqualFold(f.name, "PCMU") && f.clock == 8000:
		return audio.PCMU, true
	case strings.EqualFold(f.name, "PCMA") && f.clock == 8000:
		return audio.PCMA, true
	case strings.EqualFold(f.name, "opus") && f.clock == 48000:
		return audio.Opus, true
	}
	return "", false
}

func (f sdpFormat) telephoneEvent() bool {
	return strings.EqualFold(f.name, "telephone-event") && f.clock != 0
}

// staticFormats are the RFC 3551 audio payload types an m-line may list
// without an rtpmap (the unsupported ones only name codecs in errors).
var staticFormats = map[uint8]sdpFormat{
	0: {name: "PCMU", clock: 8000}, 3: {name: "GSM", clock: 8000}, 4: {name: "G723", clock: 8000},
	8: {name: "PCMA", clock: 8000}, 9: {name: "G722", clock: 8000}, 13: {name: "CN", clock: 8000},
	18: {name: "G729", clock: 8000},
}

// remoteAudio is what a remote description says about its audio stream.
type remoteAudio struct {
	desc  *sdp.SessionDescription
	index int    // of the audio m-line in desc.MediaDescriptions
	proto string // "RTP/AVP", "RTP/AVPF", "RTP/SAVP" or "RTP/SAVPF"
	// crypto are the usable a=crypto lines of the m-line (RFC 4568), in
	// order; none for plain RTP.
	crypto []cryptoAttr
	// addr is where the remote receives RTP; invalid for c=0.0.0.0 (RFC 2543
	// hold), when nothing may be sent.
	addr      netip.AddrPort
	rtcp      netip.AddrPort // from a=rtcp (RFC 3605); invalid when absent
	direction string
	formats   []sdpFormat // in m-line order
}

// parseRemote parses raw and picks its first usable audio stream: plain
// RTP, or SRTP with an a=crypto line we support (RFC 4568; SAVP without
// one is skipped). With needSRTP, only streams with such a line are
// usable. Errors wrap ErrBadSDP (ErrSRTPRequired when only the lack of
// SRTP keys is the problem).
func parseRemote(raw string, needSRTP bool) (*remoteAudio, error) {
	var desc sdp.SessionDescription
	if err := desc.UnmarshalString(raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	r := &remoteAudio{desc: &desc, index: -1}
	var otherProto string
	var noKeys bool
	for i, m := range desc.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		proto := strings.Join(m.MediaName.Protos, "/")
		secure := proto == "RTP/SAVP" || proto == "RTP/SAVPF"
		if proto != "RTP/AVP" && proto != "RTP/AVPF" && !secure {
			otherProto = proto
			continue
		}
		crypto := usableCrypto(m.Attributes)
		if len(crypto) == 0 && (secure || needSRTP) {
			noKeys = true
			otherProto = proto
			continue
		}
		r.index, r.proto, r.crypto = i, proto, crypto
		break
	}
	if r.index < 0 {
		switch {
		case noKeys && needSRTP:
			return nil, fmt.Errorf("%w: no usable a=crypto in the audio stream (%s)", ErrSRTPRequired, otherProto)
		case noKeys:
			return nil, fmt.Errorf("%w: audio offered only over %s without a usable a=crypto (supported %s)",
				ErrBadSDP, otherProto, suiteNames())
		case otherProto != "":
			return nil, fmt.Errorf("%w: audio offered only over %s (RTP/AVP or RTP/SAVP required)", ErrBadSDP, otherProto)
		}
		return nil, fmt.Errorf("%w: no audio m-line", ErrBadSDP)
	}
	m := desc.MediaDescriptions[r.index]
	port := m.MediaName.Port.Value
	if port == 0 {
		return nil, fmt.Errorf("%w: audio stream declined (port 0)", ErrBadSDP)
	}
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("%w: audio port %d out of range", ErrBadSDP, port)
	}
	conn := m.ConnectionInformation // media-level c= overrides session-level
	if conn == nil {
		conn = desc.ConnectionInformation
	}
	if conn == nil || conn.Address == nil {
		return nil, fmt.Errorf("%w: no connection address for audio", ErrBadSDP)
	}
	if conn.NetworkType != "IN" || (conn.AddressType != "IP4" && conn.AddressType != "IP6") {
		return nil, fmt.Errorf("%w: connection %s %s not supported", ErrBadSDP, conn.NetworkType, conn.AddressType)
	}
	ip, err := netip.ParseAddr(conn.Address.Address)
	if err != nil {
		return nil, fmt.Errorf("%w: connection address %q is not an IP address", ErrBadSDP, conn.Address.Address)
	}
	ip = ip.Unmap()
	if !ip.IsUnspecified() {
		r.addr = netip.AddrPortFrom(ip, uint16(port))
	}
	r.direction = direction(m.Attributes)
	if r.direction == "" {
		r.direction = direction(desc.Attributes)
	}
	if r.direction == "" {
		r.direction = dirSendRecv
	}
	if !r.addr.IsValid() { // c=0.0.0.0: the remote does not want to receive
		switch r.direction {
		case dirSendRecv:
			r.direction = dirSendOnly
		case dirRecvOnly:
			r.direction = dirInactive
		}
	}
	r.formats = mediaFormats(m)
	if r.addr.IsValid() {
		r.rtcp = rtcpAttr(m.Attributes, r.addr.Addr())
	}
	return r, nil
}

// rtcpAttr reads a=rtcp:<port> [IN IP4|IP6 <address>] (RFC 3605) among
// attrs; the address defaults to the RTP one. Invalid when absent or
// malformed.
func rtcpAttr(attrs []sdp.Attribute, rtpIP netip.Addr) netip.AddrPort {
	for _, a := range attrs {
		if a.Key != "rtcp" {
			continue
		}
		f := strings.Fields(a.Value)
		if len(f) == 0 {
			return netip.AddrPort{}
		}
		port, err := strconv.ParseUint(f[0], 10, 16)
		if err != nil || port == 0 {
			return netip.AddrPort{}
		}
		ip := rtpIP
		if len(f) == 4 {
			if ip, err = netip.ParseAddr(f[3]); err != nil || ip.IsUnspecified() {
				return netip.AddrPort{}
			}
		}
		return netip.AddrPortFrom(ip.Unmap(), uint16(port))
	}
	return netip.AddrPort{}
}

// direction returns the direction attribute among attrs, or "".
func direction(attrs []sdp.Attribute) string {
	for _, a := range attrs {
		switch a.Key {
		case dirSendRecv, dirSendOnly, dirRecvOnly, dirInactive:
			return a.Key
		}
	}
	return ""
}

// mediaFormats lists m's payload types in order with their rtpmaps.
func mediaFormats(m *sdp.MediaDescription) []sdpFormat {
	maps := map[uint8]sdpFormat{}
	for _, a := range m.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		pt, enc, ok := strings.Cut(strings.TrimSpace(a.Value), " ")
		n, err := strconv.ParseUint(pt, 10, 8)
		if !ok || err != nil {
			continue
		}
		parts := strings.Split(strings.TrimSpace(enc), "/")
		f := sdpFormat{pt: uint8(n), name: parts[0]}
		if len(parts) > 1 {
			clock, err := strconv.ParseUint(parts[1], 10, 32)
			if err != nil {
				continue
			}
			f.clock = uint32(clock)
		}
		if len(parts) > 2 {
			f.channels = parts[2]
		}
		maps[f.pt] = f
	}
	var out []sdpFormat
	for _, s := range m.MediaName.Formats {
		n, err := strconv.ParseUint(s, 10, 8)
		if err != nil || n > 127 {
			continue
		}
		f, ok := maps[uint8(n)]
		if !ok {
			f = staticFormats[uint8(n)]
		}
		f.pt = uint8(n)
		out = append(out, f)
	}
	return out
}

// negotiate picks the first format (in the remote's order) whose codec
// allowed accepts, and the telephone-event format with the same clock, if
// listed (te.ClockRate is 0 otherwise).
func (r *remoteAudio) negotiate(allowed func(audio.Codec) bool) (f, te Format, err error) {
	for _, sf := range r.formats {
		if c, ok := sf.codec(); ok && allowed(c) {
			f = Format{Codec: c, PayloadType: sf.pt, ClockRate: sf.clock}
			break
		}
	}
	if f.Codec == "" {
		names := make([]string, 0, len(r.formats))
		for _, sf := range r.formats {
			names = append(names, sf.String())
		}
		return f, te, fmt.Errorf("%w: no common codec (offered %s; supported PCMU/8000, PCMA/8000, opus/48000/2)",
			ErrBadSDP, strings.Join(names, ", "))
	}
	for _, sf := range r.formats {
		if sf.telephoneEvent() && sf.clock == f.ClockRate {
			te = Format{PayloadType: sf.pt, ClockRate: sf.clock}
			break
		}
	}
	return f, te, nil
}

// receiveFormats maps the payload types the remote may send to packets.
// The m-line's mapping is used in both directions (RFC 3264 §6.1); PCMU
// and PCMA are also known by their static types.
func (r *remoteAudio) receiveFormats() map[uint8]Packet {
	m := defaultReceiveFormats()
	for _, sf := range r.formats {
		if c, ok := sf.codec(); ok {
			m[sf.pt] = Packet{Format: Format{Codec: c, PayloadType: sf.pt, ClockRate: sf.clock}}
		} else if sf.telephoneEvent() {
			m[sf.pt] = Packet{TelephoneEvent: true, Format: Format{PayloadType: sf.pt, ClockRate: sf.clock}}
		} else {
			delete(m, sf.pt)
		}
	}
	return m
}

// defaultReceiveFormats are the formats of the server's own offer.
func defaultReceiveFormats() map[uint8]Packet {
	return map[uint8]Packet{
		ptPCMU:   {Format: Format{Codec: audio.PCMU, PayloadType: ptPCMU, ClockRate: 8000}},
		ptPCMA:   {Format: Format{Codec: audio.PCMA, PayloadType: ptPCMA, ClockRate: 8000}},
		ptTE8000: {TelephoneEvent: true, Format: Format{PayloadType: ptTE8000, ClockRate: 8000}},
	}
}

// answerDirection mirrors the remote's direction (RFC 3264 §6.1).
func answerDirection(remote string) string {
	switch remote {
	case dirSendOnly:
		return dirRecvOnly
	case dirRecvOnly:
		return dirSendOnly
	case dirInactive:
		return dirInactive
	}
	return dirSendRecv
}

// localSDP is one description the server sends.
type localSDP struct {
	addr      netip.AddrPort // advertised RTP address
	sessID    uint64
	version   uint64
	proto     string
	direction string
	formats   []Format // audio formats, then telephone-event ones (Codec "")
	crypto    []cryptoAttr
}

// marshal writes the description. When answering, offer is the remote's
// description and audioIndex its audio m-line: every other m-line is
// rejected with port 0, as RFC 3264 §6 requires one answer line per offer line.
func (l localSDP) marshal(offer *sdp.SessionDescription, audioIndex int) string {
	ipv := "IP4"
	if l.addr.Addr().Is6() {
		ipv = "IP6"
	}
	ip := l.addr.Addr().String()
	var b strings.Builder
	line := func(format string, args ...any) {
		fmt.Fprintf(&b, format, args...)
		b.WriteString("\r\n")
	}
	line("v=0")
	line("o=switchboard %d %d IN %s %s", l.sessID, l.version, ipv, ip)
	line("s=switchboard")
	line("c=IN %s %s", ipv, ip)
	line("t=0 0")
	audioLine := func() {
		pts := make([]string, len(l.formats))
		for i, f := range l.formats {
			pts[i] = strconv.Itoa(int(f.PayloadType))
		}
		line("m=audio %d %s %s", l.addr.Port(), l.proto, strings.Join(pts, " "))
		for _, f := range l.formats {
			switch f.Codec {
			case "":
				line("a=rtpmap:%d telephone-event/%d", f.PayloadType, f.ClockRate)
				line("a=fmtp:%d 0-16", f.PayloadType)
			case audio.Opus:
				line("a=rtpmap:%d opus/48000/2", f.PayloadType)
			default:
				line("a=rtpmap:%d %s/%d", f.PayloadType, strings.ToUpper(string(f.Codec)), f.ClockRate)
			}
		}
		for _, c := range l.crypto {
			line("a=crypto:%s", c)
		}
		line("a=ptime:20")
		line("a=%s", l.direction)
	}
	if offer == nil {
		audioLine()
		return b.String()
	}
	for i, m := range offer.MediaDescriptions {
		if i == audioIndex {
			audioLine()
			continue
		}
		formats := strings.Join(m.MediaName.Formats, " ")
		if formats == "" {
			formats = "0"
		}
		line("m=%s 0 %s %s", m.MediaName.Media, strings.Join(m.MediaName.Protos, "/"), formats)
	}
	return b.String()
}
