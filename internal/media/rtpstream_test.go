package media

import (
	"testing"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

func TestEventPayload(t *testing.T) {
	tests := []struct {
		name     string
		event    byte
		end      bool
		duration uint16
		want     []byte
	}{
		{"start", 5, false, 0, []byte{5, 10, 0, 0}},
		{"update", 11, false, 400, []byte{11, 10, 0x01, 0x90}},
		{"end", 11, true, 800, []byte{11, 0x80 | 10, 0x03, 0x20}},
		{"longest", 15, true, 0xFFFF, []byte{15, 0x80 | 10, 0xFF, 0xFF}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, eventPayload(tc.event, tc.end, tc.duration))
		})
	}
}

// TestRTPStreamStampsEvents checks the headers rtpStream gives a run of
// audio and RFC 4733 packets: one timestamp per event, the marker on its
// first packet, the end packet (sent three times) moving the audio
// timestamps past the event once.
func TestRTPStreamStampsEvents(t *testing.T) {
	const pt, tePT = 0, 101
	type pkt struct {
		audio   uint32 // ticks of an audio packet; 0: an event packet
		payload []byte // the event packet's payload
		key     uint32
		// the header it gets
		seq    uint16
		ts     uint32
		marker bool
	}
	ev := func(event byte, end bool, d uint16, key uint32, seq uint16, ts uint32, marker bool) pkt {
		return pkt{payload: eventPayload(event, end, d), key: key, seq: seq, ts: ts, marker: marker}
	}
	tests := []struct {
		name     string
		seq      uint16
		ts       uint32
		pkts     []pkt
		wantNext uint32 // the stream's next audio timestamp
	}{{
		name: "a digit between audio frames", seq: 100, ts: 1000,
		pkts: []pkt{
			{audio: 160, seq: 100, ts: 1000, marker: true},
			ev(5, false, 0, 1, 101, 1160, true),
			ev(5, false, 400, 1, 102, 1160, false),
			ev(5, true, 800, 1, 103, 1160, false),
			ev(5, true, 800, 1, 104, 1160, false),
			ev(5, true, 800, 1, 105, 1160, false),
			{audio: 160, seq: 106, ts: 1960},
		},
		wantNext: 2120,
	}, {
		name: "two events back to back", seq: 65535, ts: 0,
		pkts: []pkt{
			ev(1, false, 0, 7, 65535, 0, true),
			ev(1, true, 320, 7, 0, 0, false),
			ev(2, false, 0, 8, 1, 320, true),
			ev(2, true, 160, 8, 2, 320, false),
			ev(2, true, 160, 8, 3, 320, false),
		},
		wantNext: 480,
	}, {
		name: "an end packet after the audio moved on moves nothing back", seq: 1, ts: 5000,
		pkts: []pkt{
			ev(9, false, 0, 3, 1, 5000, true),
			{audio: 960, seq: 2, ts: 5000},
			ev(9, true, 160, 3, 3, 5000, false),
		},
		wantNext: 5960,
	}, {
		name: "the end wraps the 32-bit timestamp", seq: 1, ts: 0xFFFFFF00,
		pkts: []pkt{
			ev(0, false, 0, 4, 1, 0xFFFFFF00, true),
			ev(0, true, 0x200, 4, 2, 0xFFFFFF00, false),
			{audio: 160, seq: 3, ts: 0x100},
		},
		wantNext: 0x1A0,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := rtpStream{ssrc: 7, seq: tc.seq, ts: tc.ts}
			for i, p := range tc.pkts {
				var h rtp.Header
				wantPT := uint8(tePT)
				if p.audio > 0 {
					h, wantPT = s.audio(pt, p.audio, p.marker), pt
				} else {
					h = s.event(tePT, p.payload, p.key)
				}
				require.Equal(t, uint8(2), h.Version, "packet %d", i)
				require.Equal(t, wantPT, h.PayloadType, "packet %d", i)
				require.Equal(t, uint32(7), h.SSRC, "packet %d", i)
				require.Equal(t, p.seq, h.SequenceNumber, "packet %d", i)
				require.Equal(t, p.ts, h.Timestamp, "packet %d", i)
				require.Equal(t, p.marker, h.Marker, "packet %d", i)
			}
			require.Equal(t, tc.wantNext, s.ts)
		})
	}
}
