package media

import (
	"crypto/rand"
	"encoding/binary"

	"github.com/pion/rtp"
)

// rtpStream is the header state of one outgoing RTP stream: one SSRC, and
// sequence numbers and timestamps that stay continuous whatever is fed to
// it (the far party, music on hold, silence, RFC 4733 events). outTrack
// and RTPEndpoint each keep one under their lock.
type rtpStream struct {
	ssrc uint32
	seq  uint16
	ts   uint32 // the next audio packet's timestamp

	eventKey uint32 // the source's key of the event being written
	eventTS  uint32 // its timestamp in this stream
	inEvent  bool
}

// newRTPStream starts a stream at a random sequence number and timestamp
// (RFC 3550 §5.1) with the given SSRC.
func newRTPStream(ssrc uint32) rtpStream {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return rtpStream{ssrc: ssrc, seq: binary.BigEndian.Uint16(b[:2]), ts: binary.BigEndian.Uint32(b[2:])}
}

// audio returns the header of an audio packet that lasts ticks of the
// clock, and moves the stream past it.
func (s *rtpStream) audio(pt uint8, ticks uint32, marker bool) rtp.Header {
	h := rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: s.seq, Timestamp: s.ts, SSRC: s.ssrc, Marker: marker}
	s.seq++
	s.ts += ticks
	return h
}

// event returns the header of one RFC 4733 packet (payload at least 4
// bytes). key identifies the event at its source (the source's RTP
// timestamp, or a counter): every packet of one event carries the
// timestamp the stream had at its first packet (RFC 4733 §2.5.1.2), the
// first packet is marked, and an end packet moves the audio timestamps
// past the event's duration. Repeated end packets (§2.5.1.4) move nothing
// further.
func (s *rtpStream) event(pt uint8, payload []byte, key uint32) rtp.Header {
	first := !s.inEvent || key != s.eventKey
	if first {
		s.eventKey, s.eventTS, s.inEvent = key, s.ts, true
	}
	h := rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: s.seq, Timestamp: s.eventTS, SSRC: s.ssrc, Marker: first}
	s.seq++
	if payload[1]&0x80 != 0 { // end bit
		if end := s.eventTS + uint32(binary.BigEndian.Uint16(payload[2:4])); end-s.ts < 1<<31 {
			s.ts = end
		}
	}
	return h
}

// eventVolume is the volume field of the events the server makes up:
// -10 dBm0.
const eventVolume = 10

// eventPayload is an RFC 4733 payload for event that has lasted duration
// ticks, with the end bit when end.
func eventPayload(event byte, end bool, duration uint16) []byte {
	p := []byte{event, eventVolume, byte(duration >> 8), byte(duration)}
	if end {
		p[1] |= 0x80
	}
	return p
}
