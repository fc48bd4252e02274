package media

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
)

func newRTP(t testing.TB, id string) *RTPEndpoint {
	e, err := NewRTP(id, net.IPv4(127, 0, 0, 1), 30000, 39999, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// offerSDP builds a remote description: session-level c=sessConn, then the
// given body (m= lines and attributes), "\n"-separated.
func offerSDP(sessConn string, body ...string) string {
	lines := []string{"v=0", "o=phone 42 1 IN IP4 192.0.2.10", "s=call"}
	if sessConn != "" {
		lines = append(lines, "c=IN IP4 "+sessConn)
	}
	lines = append(lines, "t=0 0")
	lines = append(lines, body...)
	return strings.Join(lines, "\r\n") + "\r\n"
}

func (e *RTPEndpoint) remoteAddr() netip.AddrPort {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sendAddr
}

func TestRTPAnswerOffer(t *testing.T) {
	pcmu := Format{Codec: audio.PCMU, PayloadType: 0, ClockRate: 8000}
	tests := []struct {
		name    string
		offer   string
		format  Format
		te      Format // zero: none
		dir     string // RemoteDirection
		answer  []string
		missing []string
		addr    string // "" for none
	}{
		{name: "PCMU only", offer: offerSDP("192.0.2.10", "m=audio 4000 RTP/AVP 0"),
			format: pcmu, dir: "sendrecv", addr: "192.0.2.10:4000",
			answer:  []string{" RTP/AVP 0\r\n", "a=rtpmap:0 PCMU/8000\r\n", "a=ptime:20\r\n", "a=sendrecv\r\n"},
			missing: []string{"telephone-event", "PCMA"}},
		{name: "PCMA first", offer: offerSDP("192.0.2.10", "m=audio 4000 RTP/AVP 8 0 101",
			"a=rtpmap:8 PCMA/8000", "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15"),
			format: Format{Codec: audio.PCMA, PayloadType: 8, ClockRate: 8000}, te: Format{PayloadType: 101, ClockRate: 8000},
			dir: "sendrecv", addr: "192.0.2.10:4000",
			answer:  []string{" RTP/AVP 8 101\r\n", "a=rtpmap:8 PCMA/8000\r\n", "a=rtpmap:101 telephone-event/8000\r\n", "a=fmtp:101 0-16\r\n"},
			missing: []string{"PCMU"}},
		{name: "opus and PCMU", offer: offerSDP("192.0.2.10", "m=audio 5004 RTP/AVP 96 0 101 97",
			"a=rtpmap:96 opus/48000/2", "a=fmtp:96 useinbandfec=1", "a=rtpmap:101 telephone-event/8000", "a=rtpmap:97 telephone-event/48000"),
			format: Format{Codec: audio.Opus, PayloadType: 96, ClockRate: 48000}, te: Format{PayloadType: 97, ClockRate: 48000},
			dir: "sendrecv", addr: "192.0.2.10:5004",
			answer:  []string{" RTP/AVP 96 97\r\n", "a=rtpmap:96 opus/48000/2\r\n", "a=rtpmap:97 telephone-event/48000\r\n", "a=fmtp:97 0-16\r\n"},
			missing: []string{"PCMU", "telephone-event/8000"}},
		{name: "telephone-event only at 48000", offer: offerSDP("192.0.2.10", "m=audio 4000 RTP/AVP 0 110",
			"a=rtpmap:110 telephone-event/48000"),
			format: pcmu, dir: "sendrecv", addr: "192.0.2.10:4000",
			answer: []string{" RTP/AVP 0\r\n"}, missing: []string{"telephone-event"}},
		{name: "telephone-event at 8000 on another type", offer: offerSDP("192.0.2.10", "m=audio 4000 RTP/AVP 0 96",
			"a=rtpmap:96 telephone-event/8000"),
			format: pcmu, te: Format{PayloadType: 96, ClockRate: 8000}, dir: "sendrecv", addr: "192.0.2.10:4000",
			answer: []string{" RTP/AVP 0 96\r\n", "a=fmtp:96 0-16\r\n"}},
		{name: "sendonly", offer: offerSDP("192.0.2.10", "m=audio 4000 RTP/AVP 0", "a=sendonly"),
			format: pcmu, dir: "sendonly", addr: "192.0.2.10:4000", answer: []string{"a=recvonly\r\n"}},
		{name: "recvonly", offer: offerSDP("192.0.2.10", "m=audio 4000 RTP/AVP 0", "a=recvonly"),
			format: pcmu, dir: "recvonly", addr: "192.0.2.10:4000", answer: []string{"a=sendonly\r\n"}},
		{name: "inactive", offer: offerSDP("192.0.2.10", "m=audio 4000 RTP/AVP 0", "a=inactive"),
			format: pcmu, dir: "inactive", addr: "192.0.2.10:4000", answer: []string{"a=inactive\r\n"}},
		{name: "session-level direction", offer: offerSDP("192.0.2.10", "a=sendonly", "m=audio 4000 RTP/AVP 0"),
			format: pcmu, dir: "sendonly", addr: "192.0.2.10:4000", answer: []string{"a=recvonly\r\n"}},
		{name: "media-level c= overrides session-level", offer: offerSDP("192.0.2.10", "m=audio 4000 RTP/AVP 0",
			"c=IN IP4 198.51.100.7"), format: pcmu, dir: "sendrecv", addr: "198.51.100.7:4000"},
		{name: "media-level c= only", offer: offerSDP("", "m=audio 4000 RTP/AVP 0", "c=IN IP4 198.51.100.7"),
			format: pcmu, dir: "sendrecv", addr: "198.51.100.7:4000"},
		{name: "c=0.0.0.0 hold", offer: offerSDP("0.0.0.0", "m=audio 4000 RTP/AVP 0"),
			format: pcmu, dir: "sendonly", answer: []string{"a=recvonly\r\n"}},
		{name: "video rejected", offer: offerSDP("192.0.2.10", "m=video 4002 RTP/AVP 96", "a=rtpmap:96 H264/90000",
			"m=audio 4000 RTP/AVP 0"), format: pcmu, dir: "sendrecv", addr: "192.0.2.10:4000",
			answer: []string{"t=0 0\r\nm=video 0 RTP/AVP 96\r\nm=audio "}, missing: []string{"H264"}},
		{name: "AVPF kept", offer: offerSDP("192.0.2.10", "m=audio 4000 RTP/AVPF 0"),
			format: pcmu, dir: "sendrecv", addr: "192.0.2.10:4000", answer: []string{" RTP/AVPF 0\r\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newRTP(t, "x")
			answer, err := e.AnswerOffer(context.Background(), tt.offer)
			require.NoError(t, err)
			f, ok := e.SendFormat()
			require.True(t, ok)
			require.Equal(t, tt.format, f)
			te, ok := e.EventFormat()
			require.Equal(t, tt.te.ClockRate != 0, ok)
			if ok {
				require.Equal(t, tt.te, te)
			}
			require.Equal(t, tt.dir, e.RemoteDirection())
			if tt.addr == "" {
				require.False(t, e.remoteAddr().IsValid())
			} else {
				require.Equal(t, tt.addr, e.remoteAddr().String())
			}
			port := e.LocalAddr().Port()
			require.Contains(t, answer, fmt.Sprintf("m=audio %d ", port))
			require.Contains(t, answer, "c=IN IP4 127.0.0.1\r\n")
			for _, s := range tt.answer {
				require.Contains(t, answer, s)
			}
			for _, s := range tt.missing {
				require.NotContains(t, answer, s)
			}
			require.NotContains(t, strings.ReplaceAll(answer, "\r\n", ""), "\n", "CRLF line endings")
			var parsed sdp.SessionDescription
			require.NoError(t, parsed.UnmarshalString(answer), "the answer parses")
			require.Len(t, parsed.MediaDescriptions, len(must(t, tt.offer).MediaDescriptions), "one answer line per offer line")
		})
	}
}

func must(t *testing.T, raw string) *sdp.SessionDescription {
	var d sdp.SessionDescription
	require.NoError(t, d.UnmarshalString(raw))
	return &d
}

func TestRTPBadOffers(t *testing.T) {
	tests := []struct {
		name, offer, msg string
	}{
		{"empty", "", ""},
		{"garbage", "garbage\r\n", ""},
		{"version only", "v=0\r\n", ""},
		{"no audio", offerSDP("192.0.2.10", "m=video 4002 RTP/AVP 96"), "no audio m-line"},
		{"declined", offerSDP("192.0.2.10", "m=audio 0 RTP/AVP 0"), "declined"},
		{"SRTP only", offerSDP("192.0.2.10", "m=audio 4000 RTP/SAVP 0"), "RTP/SAVP"},
		{"no common codec", offerSDP("192.0.2.10", "m=audio 4000 RTP/AVP 18 9 96 101", "a=rtpmap:96 iLBC/8000",
			"a=rtpmap:101 telephone-event/8000"), "offered G729/8000, G722/8000, iLBC/8000, telephone-event/8000"},
		{"no connection", offerSDP("", "m=audio 4000 RTP/AVP 0"), "no connection address"},
		{"hostname", offerSDP("pbx.example.com", "m=audio 4000 RTP/AVP 0"), "not an IP"},
	}
	e := newRTP(t, "x")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.AnswerOffer(context.Background(), tt.offer)
			require.ErrorIs(t, err, ErrBadSDP)
			require.Contains(t, err.Error(), tt.msg)
			_, ok := e.SendFormat()
			require.False(t, ok, "nothing applied")
		})
	}
}

func TestRTPCreateOfferAndSetAnswer(t *testing.T) {
	e := newRTP(t, "x")
	require.Error(t, e.SetAnswer(offerSDP("192.0.2.10", "m=audio 4000 RTP/AVP 0")), "no offer outstanding")
	offer, err := e.CreateOffer(context.Background())
	require.NoError(t, err)
	d := must(t, offer)
	require.Equal(t, uint64(1), d.Origin.SessionVersion)
	for _, s := range []string{fmt.Sprintf("m=audio %d RTP/AVP 0 8 101\r\n", e.LocalAddr().Port()),
		"c=IN IP4 127.0.0.1\r\n", "a=rtpmap:0 PCMU/8000\r\n", "a=rtpmap:8 PCMA/8000\r\n",
		"a=rtpmap:101 telephone-event/8000\r\n", "a=fmtp:101 0-16\r\n", "a=ptime:20\r\n", "a=sendrecv\r\n"} {
		require.Contains(t, offer, s)
	}
	_, ok := e.SendFormat()
	require.False(t, ok, "not negotiated before the answer")

	tests := []struct {
		name   string
		answer string
		err    bool
		format Format
		te     bool
		dir    string
	}{
		{name: "opus is not offered", answer: offerSDP("192.0.2.10", "m=audio 4000 RTP/AVP 96", "a=rtpmap:96 opus/48000/2"), err: true},
		{name: "declined", answer: offerSDP("192.0.2.10", "m=audio 0 RTP/AVP 0"), err: true},
		{name: "PCMA with events", answer: offerSDP("192.0.2.10", "m=audio 4000 RTP/AVP 8 101", "a=rtpmap:101 telephone-event/8000", "a=recvonly"),
			format: Format{Codec: audio.PCMA, PayloadType: 8, ClockRate: 8000}, te: true, dir: "recvonly"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.SetAnswer(tt.answer)
			if tt.err {
				require.ErrorIs(t, err, ErrBadSDP)
				return
			}
			require.NoError(t, err)
			f, ok := e.SendFormat()
			require.True(t, ok)
			require.Equal(t, tt.format, f)
			_, ok = e.EventFormat()
			require.Equal(t, tt.te, ok)
			require.Equal(t, tt.dir, e.RemoteDirection())
			require.Equal(t, "192.0.2.10:4000", e.remoteAddr().String())
		})
	}

	again, err := e.CreateOffer(context.Background())
	require.NoError(t, err)
	d2 := must(t, again)
	require.Equal(t, d.Origin.SessionID, d2.Origin.SessionID)
	require.Equal(t, uint64(2), d2.Origin.SessionVersion, "the version increments")
}

func FuzzParseSDP(f *testing.F) {
	f.Add([]byte(offerSDP("192.0.2.10", "m=audio 4000 RTP/AVP 0 8 101", "a=rtpmap:101 telephone-event/8000", "a=sendonly")))
	f.Add([]byte(offerSDP("0.0.0.0", "m=audio 4000 RTP/AVP 96", "a=rtpmap:96 opus/48000/2", "c=IN IP6 ::1")))
	f.Add([]byte(offerSDP("192.0.2.10", "m=video 1 RTP/AVP 96", "m=audio 70000 RTP/AVP 300 x", "a=rtpmap:x y")))
	f.Add([]byte("v=0\r\nm=audio\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := NewRTP("fuzz", net.IPv4(127, 0, 0, 1), 30000, 39999, nil)
		require.NoError(t, err)
		defer e.Close()
		if answer, err := e.AnswerOffer(context.Background(), string(data)); err == nil {
			var d sdp.SessionDescription
			require.NoError(t, d.UnmarshalString(answer), "answers parse")
		}
	})
}
