package media

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/stretchr/testify/require"
)

// key30 is a valid inline key: 30 bytes, base64.
var key30 = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x42}, 30))

func TestSRTPParseCrypto(t *testing.T) {
	tests := []struct {
		name, line string
		err        string // "" when usable
		suite      string
		tag        int
		lifetime   uint64
		mki        []byte
	}{
		{name: "80", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30, suite: "AES_CM_128_HMAC_SHA1_80", tag: 1},
		{name: "32", line: "7 AES_CM_128_HMAC_SHA1_32 inline:" + key30, suite: "AES_CM_128_HMAC_SHA1_32", tag: 7},
		{name: "lifetime power", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|2^31", suite: "AES_CM_128_HMAC_SHA1_80",
			tag: 1, lifetime: 1 << 31},
		{name: "lifetime decimal", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|1048576", suite: "AES_CM_128_HMAC_SHA1_80",
			tag: 1, lifetime: 1 << 20},
		{name: "MKI", line: "2 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|1:4", suite: "AES_CM_128_HMAC_SHA1_80",
			tag: 2, mki: []byte{0, 0, 0, 1}},
		{name: "lifetime and MKI", line: "2 AES_CM_128_HMAC_SHA1_32 inline:" + key30 + "|2^20|258:2", suite: "AES_CM_128_HMAC_SHA1_32",
			tag: 2, lifetime: 1 << 20, mki: []byte{1, 2}},
		{name: "window size hint", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + " WSH=128", suite: "AES_CM_128_HMAC_SHA1_80", tag: 1},
		{name: "max tag", line: "999999999 AES_CM_128_HMAC_SHA1_80 inline:" + key30, suite: "AES_CM_128_HMAC_SHA1_80", tag: 999999999},

		{name: "empty", line: "", err: "want"},
		{name: "no key", line: "1 AES_CM_128_HMAC_SHA1_80", err: "want"},
		{name: "unknown suite", line: "1 F8_128_HMAC_SHA1_80 inline:" + key30, err: "not supported"},
		{name: "AES-256", line: "1 AES_256_CM_HMAC_SHA1_80 inline:" + key30, err: "not supported"},
		{name: "suite case", line: "1 aes_cm_128_hmac_sha1_80 inline:" + key30, err: "not supported"},
		{name: "tag letters", line: "x AES_CM_128_HMAC_SHA1_80 inline:" + key30, err: "tag"},
		{name: "tag too long", line: "1234567890 AES_CM_128_HMAC_SHA1_80 inline:" + key30, err: "tag"},
		{name: "tag sign", line: "+1 AES_CM_128_HMAC_SHA1_80 inline:" + key30, err: "tag"},
		{name: "double space", line: "1  AES_CM_128_HMAC_SHA1_80 inline:" + key30, err: "not supported"},
		{name: "trailing space", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + " ", err: "session parameter"},
		{name: "not inline", line: "1 AES_CM_128_HMAC_SHA1_80 uri:" + key30, err: "inline"},
		{name: "short key", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30[:36], err: "base64 characters"},
		{name: "long key", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "QUFB", err: "base64 characters"},
		{name: "padded short key", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + base64.StdEncoding.EncodeToString(make([]byte, 29)),
			err: "base64"},
		{name: "bad base64", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + "!" + key30[1:], err: "base64"},
		{name: "url base64", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + strings.Repeat("_", 40), err: "base64"},
		{name: "several keys", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|1:1;inline:" + key30 + "|2:1", err: "several keys"},
		{name: "lifetime too long", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|2^49", err: "lifetime"},
		{name: "lifetime zero", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|0", err: "lifetime"},
		{name: "lifetime huge", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|99999999999999999999", err: "lifetime"},
		{name: "lifetime empty", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|", err: "lifetime"},
		{name: "MKI before lifetime", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|1:4|2^20", err: "MKI must come last"},
		{name: "two lifetimes", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|2^20|2^20", err: "lifetime must come first"},
		{name: "too many parts", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|2^20|1:4|1:4", err: "too many"},
		{name: "MKI length zero", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|1:0", err: "MKI length"},
		{name: "MKI length 129", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|1:129", err: "MKI length"},
		{name: "MKI does not fit", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|256:1", err: "does not fit"},
		{name: "MKI value letters", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|x:1", err: "MKI value"},
		{name: "MKI value empty", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|:1", err: "MKI value"},
		{name: "MKI value digits", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|" + strings.Repeat("9", 500) + ":1",
			err: "too long"},
		{name: "unencrypted", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + " UNENCRYPTED_SRTP", err: "session parameter"},
		{name: "KDR", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + " KDR=1", err: "session parameter"},
		{name: "small WSH", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + " WSH=10", err: "WSH"},
		{name: "two WSH", line: "1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + " WSH=64 WSH=64", err: "session parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseCrypto(tt.line)
			if tt.err != "" {
				require.Error(t, err)
				require.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.suite, c.suite.name)
			require.Equal(t, tt.tag, c.tag)
			require.Equal(t, tt.lifetime, c.lifetime)
			require.Equal(t, tt.mki, c.mki)
			require.Len(t, c.keySalt, 30)
			again, err := parseCrypto(c.String())
			require.NoError(t, err, "what we write parses: %s", c)
			require.Equal(t, c, again)
		})
	}
}

// savpOffer is a phone's RTP/SAVP offer with the given a=crypto values.
func savpOffer(port int, proto string, crypto ...string) string {
	body := []string{fmt.Sprintf("m=audio %d %s 0 101", port, proto), "a=rtpmap:101 telephone-event/8000"}
	for _, c := range crypto {
		body = append(body, "a=crypto:"+c)
	}
	return offerSDP("127.0.0.1", body...)
}

// answerCryptoLine returns the single a=crypto value of an answer.
func answerCryptoLine(t *testing.T, answer string) cryptoAttr {
	t.Helper()
	d := must(t, answer)
	var out []cryptoAttr
	for _, m := range d.MediaDescriptions {
		for _, a := range m.Attributes {
			if a.Key == "crypto" {
				c, err := parseCrypto(a.Value)
				require.NoError(t, err)
				out = append(out, c)
			}
		}
	}
	require.Len(t, out, 1, answer)
	return out[0]
}

func TestSRTPAnswer(t *testing.T) {
	offered := "2 AES_CM_128_HMAC_SHA1_32 inline:" + key30 + "|2^31"
	tests := []struct {
		name, offer, proto string
		require            bool
		err                error
		suite              string // "" for plain RTP
		tag                int
	}{
		{name: "SAVP 80", offer: savpOffer(4000, "RTP/SAVP", "1 AES_CM_128_HMAC_SHA1_80 inline:"+key30),
			proto: "RTP/SAVP", suite: "AES_CM_128_HMAC_SHA1_80", tag: 1},
		{name: "first supported suite", offer: savpOffer(4000, "RTP/SAVP", "1 AES_256_CM_HMAC_SHA1_80 inline:"+key30+key30,
			"3 AES_CM_128_HMAC_SHA1_80 inline:short", offered, "4 AES_CM_128_HMAC_SHA1_80 inline:"+key30),
			proto: "RTP/SAVP", suite: "AES_CM_128_HMAC_SHA1_32", tag: 2},
		{name: "SAVPF", offer: savpOffer(4000, "RTP/SAVPF", offered), proto: "RTP/SAVPF", suite: "AES_CM_128_HMAC_SHA1_32", tag: 2},
		{name: "best effort AVP with keys", offer: savpOffer(4000, "RTP/AVP", offered), proto: "RTP/AVP",
			suite: "AES_CM_128_HMAC_SHA1_32", tag: 2},
		{name: "plain", offer: savpOffer(4000, "RTP/AVP"), proto: "RTP/AVP"},
		{name: "SAVP without keys", offer: savpOffer(4000, "RTP/SAVP", "1 F8_128_HMAC_SHA1_80 inline:"+key30), err: ErrBadSDP},
		{name: "SAVP without keys, then AVP", offer: offerSDP("127.0.0.1", "m=audio 4000 RTP/SAVP 0", "m=audio 4002 RTP/AVP 0"),
			proto: "RTP/AVP"},
		{name: "required, plain", offer: savpOffer(4000, "RTP/AVP"), require: true, err: ErrSRTPRequired},
		{name: "required, unusable key", offer: savpOffer(4000, "RTP/SAVP", "1 AES_CM_128_HMAC_SHA1_80 inline:"+key30[:20]),
			require: true, err: ErrSRTPRequired},
		{name: "required, AVP with keys", offer: savpOffer(4000, "RTP/AVP", offered), require: true, proto: "RTP/AVP",
			suite: "AES_CM_128_HMAC_SHA1_32", tag: 2},
		{name: "required, SAVP after AVP", offer: offerSDP("127.0.0.1", "m=audio 4000 RTP/AVP 0",
			"m=audio 4002 RTP/SAVP 0", "a=crypto:"+offered), require: true, proto: "RTP/SAVP", suite: "AES_CM_128_HMAC_SHA1_32", tag: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newRTP(t, "x")
			e.SetSRTP(tt.require, tt.require)
			answer, err := e.AnswerOffer(context.Background(), tt.offer)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				require.ErrorIs(t, err, ErrBadSDP, "the call refuses the offer (488)")
				require.Equal(t, tt.err == ErrSRTPRequired, e.SRTPRefused())
				_, ok := e.SendFormat()
				require.False(t, ok, "nothing applied")
				return
			}
			require.NoError(t, err)
			require.False(t, e.SRTPRefused())
			require.Contains(t, answer, fmt.Sprintf("m=audio %d %s 0", e.LocalAddr().Port(), tt.proto))
			require.Equal(t, tt.suite, e.SRTPSuite())
			if tt.suite == "" {
				require.NotContains(t, answer, "a=crypto")
				return
			}
			c := answerCryptoLine(t, answer)
			require.Equal(t, tt.tag, c.tag)
			require.Equal(t, tt.suite, c.suite.name)
			require.NotEqual(t, bytes.Repeat([]byte{0x42}, 30), c.keySalt, "our own key")
			require.Zero(t, c.lifetime)
			require.Nil(t, c.mki)
		})
	}
}

func TestSRTPOfferAndAnswer(t *testing.T) {
	plain := newRTP(t, "plain")
	offer, err := plain.CreateOffer(context.Background())
	require.NoError(t, err)
	require.Contains(t, offer, " RTP/AVP 0 8 101\r\n")
	require.NotContains(t, offer, "a=crypto", "SRTP is only offered when asked (TLS)")

	e := newRTP(t, "x")
	e.SetSRTP(true, false)
	offer, err = e.CreateOffer(context.Background())
	require.NoError(t, err)
	require.Contains(t, offer, fmt.Sprintf("m=audio %d RTP/SAVP 0 8 101\r\n", e.LocalAddr().Port()))
	d := must(t, offer)
	var lines []cryptoAttr
	for _, a := range d.MediaDescriptions[0].Attributes {
		if a.Key == "crypto" {
			c, err := parseCrypto(a.Value)
			require.NoError(t, err)
			lines = append(lines, c)
		}
	}
	require.Len(t, lines, 2)
	require.Equal(t, []string{"AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"}, []string{lines[0].suite.name, lines[1].suite.name})
	require.Equal(t, []int{1, 2}, []int{lines[0].tag, lines[1].tag})
	require.NotEqual(t, lines[0].keySalt, lines[1].keySalt, "a key per line")

	for _, bad := range []string{
		savpOffer(4000, "RTP/SAVP", "9 AES_CM_128_HMAC_SHA1_80 inline:"+key30), // no such tag
		savpOffer(4000, "RTP/SAVP", "1 AES_CM_128_HMAC_SHA1_32 inline:"+key30), // tag 1 is _80
	} {
		require.ErrorIs(t, e.SetAnswer(bad), ErrBadSDP)
	}
	require.NoError(t, e.SetAnswer(savpOffer(4000, "RTP/SAVP", "2 AES_CM_128_HMAC_SHA1_32 inline:"+key30)))
	require.Equal(t, "AES_CM_128_HMAC_SHA1_32", e.SRTPSuite())

	// Offered but not required: a plain answer is taken as plain RTP.
	lax := newRTP(t, "lax")
	lax.SetSRTP(true, false)
	_, err = lax.CreateOffer(context.Background())
	require.NoError(t, err)
	require.NoError(t, lax.SetAnswer(savpOffer(4000, "RTP/AVP")))
	require.Empty(t, lax.SRTPSuite())

	// Required: it is refused.
	strict := newRTP(t, "strict")
	strict.SetSRTP(false, true)
	offer, err = strict.CreateOffer(context.Background())
	require.NoError(t, err)
	require.Contains(t, offer, "RTP/SAVP", "require implies offering SRTP")
	require.ErrorIs(t, strict.SetAnswer(savpOffer(4000, "RTP/AVP")), ErrSRTPRequired)
	require.True(t, strict.SRTPRefused())
}

// srtpPhone is a UDP socket that speaks SRTP with a key of its own.
type srtpPhone struct {
	*phone
	key      cryptoAttr
	enc, dec *srtp.Context
}

func newSRTPPhone(t *testing.T, suite cryptoSuite) *srtpPhone {
	key, err := newCrypto(1, suite)
	require.NoError(t, err)
	enc, err := newSRTPContext(key)
	require.NoError(t, err)
	return &srtpPhone{phone: newPhone(t), key: key, enc: enc}
}

func (p *srtpPhone) offer(proto string) string {
	return savpOffer(p.port(), proto, p.key.String())
}

// answered takes the endpoint's key from its answer.
func (p *srtpPhone) answered(answer string) {
	var err error
	p.dec, err = newSRTPContext(answerCryptoLine(p.t, answer))
	require.NoError(p.t, err)
}

func (p *srtpPhone) sendSRTP(to *RTPEndpoint, payload []byte) {
	p.seq++
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: p.seq,
		Timestamp: uint32(p.seq) * 160, SSRC: 7}, Payload: payload}).Marshal()
	require.NoError(p.t, err)
	b, err = p.enc.EncryptRTP(nil, b, nil)
	require.NoError(p.t, err)
	_, err = p.conn.WriteToUDPAddrPort(b, to.LocalAddr())
	require.NoError(p.t, err)
}

// readSRTP returns the next packet decrypted, or nil after timeout.
func (p *srtpPhone) readSRTP(timeout time.Duration) (raw []byte, pkt *rtp.Packet) {
	buf := make([]byte, 1500)
	require.NoError(p.t, p.conn.SetReadDeadline(time.Now().Add(timeout)))
	n, err := p.conn.Read(buf)
	if err != nil {
		return nil, nil
	}
	plain, err := p.dec.DecryptRTP(nil, buf[:n], nil)
	require.NoError(p.t, err)
	pkt = &rtp.Packet{}
	require.NoError(p.t, pkt.Unmarshal(plain))
	return buf[:n], pkt
}

func TestSRTPRoundTrip(t *testing.T) {
	for _, suite := range cryptoSuites {
		t.Run(suite.name, func(t *testing.T) {
			e := newRTP(t, "x")
			e.SetSRTP(true, true)
			ph := newSRTPPhone(t, suite)
			answer, err := e.AnswerOffer(context.Background(), ph.offer("RTP/SAVP"))
			require.NoError(t, err)
			ph.answered(answer)
			var got collector
			e.SetSink(got.add)

			// The phone's packets arrive decrypted.
			secret := []byte("a secret payload of twenty-four bytes")
			ph.sendSRTP(e, secret)
			require.Eventually(t, func() bool { return len(got.get()) == 1 }, 2*time.Second, 5*time.Millisecond)
			require.Equal(t, secret, got.get()[0].Payload)
			require.Equal(t, uint16(1), got.get()[0].Seq)

			// Ours leave encrypted, with the suite's tag, and decrypt with our key.
			require.NoError(t, e.WriteAudio(secret, 160))
			raw, pkt := ph.readSRTP(2 * time.Second)
			require.NotNil(t, pkt)
			require.Equal(t, secret, pkt.Payload)
			require.False(t, bytes.Contains(raw, secret), "the payload is encrypted on the wire")
			tagLen, err := suite.profile.AuthTagRTPLen()
			require.NoError(t, err)
			require.Len(t, raw, 12+len(secret)+tagLen)

			// Forged, replayed and plain packets are dropped and do not latch.
			forger := newSRTPPhone(t, suite)
			forger.sendSRTP(e, secret) // the wrong key
			forger.phone.send(e)       // plain RTP
			stolen, err := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 1, Timestamp: 160, SSRC: 7},
				Payload: secret}).Marshal()
			require.NoError(t, err)
			stolen, err = ph.enc.EncryptRTP(nil, stolen, nil) // seq 1 again: a replay
			require.NoError(t, err)
			_, err = ph.conn.WriteToUDPAddrPort(stolen, e.LocalAddr())
			require.NoError(t, err)
			ph.sendSRTP(e, []byte{9})
			require.Eventually(t, func() bool { return len(got.get()) == 2 }, 2*time.Second, 5*time.Millisecond)
			require.Equal(t, []byte{9}, got.get()[1].Payload)
			require.Equal(t, uint64(2), e.Stats().PacketsReceived)
			require.Equal(t, uint16(ph.port()), e.remoteAddr().Port())

			// A re-INVITE with the same key keeps our key and the stream.
			again, err := e.Reoffer(context.Background(), ph.offer("RTP/SAVP"))
			require.NoError(t, err)
			require.Equal(t, answerCryptoLine(t, answer), answerCryptoLine(t, again))
			require.NoError(t, e.WriteAudio([]byte{7}, 160))
			_, pkt = ph.readSRTP(2 * time.Second)
			require.NotNil(t, pkt)
			require.Equal(t, []byte{7}, pkt.Payload)
		})
	}
}

// TestSRTPBetweenEndpoints has one endpoint offer SRTP and another answer.
func TestSRTPBetweenEndpoints(t *testing.T) {
	a, b := newRTP(t, "a"), newRTP(t, "b")
	a.SetSRTP(true, true)
	offer, err := a.CreateOffer(context.Background())
	require.NoError(t, err)
	answer, err := b.AnswerOffer(context.Background(), offer)
	require.NoError(t, err)
	require.NoError(t, a.SetAnswer(answer))
	require.Equal(t, "AES_CM_128_HMAC_SHA1_80", a.SRTPSuite())
	require.Equal(t, "AES_CM_128_HMAC_SHA1_80", b.SRTPSuite())
	var atB, atA collector
	b.SetSink(atB.add)
	a.SetSink(atA.add)
	for i := range 5 {
		require.NoError(t, a.WriteAudio([]byte{byte(i)}, 160))
		require.NoError(t, b.WriteAudio([]byte{byte(10 + i)}, 160))
	}
	require.Eventually(t, func() bool { return len(atA.get()) == 5 && len(atB.get()) == 5 }, 2*time.Second, 5*time.Millisecond)
	for i := range 5 {
		require.Equal(t, []byte{byte(i)}, atB.get()[i].Payload)
		require.Equal(t, []byte{byte(10 + i)}, atA.get()[i].Payload)
	}
}

func FuzzParseCrypto(f *testing.F) {
	for _, s := range []string{
		"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30,
		"2 AES_CM_128_HMAC_SHA1_32 inline:" + key30 + "|2^20|1:4 WSH=64",
		"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|1:1;inline:" + key30 + "|2:1",
		"1 AES_CM_128_HMAC_SHA1_80 inline:" + key30 + "|2^49 UNENCRYPTED_SRTP",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, err := parseCrypto(line)
		if err != nil {
			return
		}
		require.Len(t, c.keySalt, srtpKeyLen+srtpSaltLen)
		again, err := parseCrypto(c.String())
		require.NoError(t, err, "what we write parses")
		require.Equal(t, c, again)
		_, err = newSRTPContext(c)
		require.NoError(t, err, "every usable line makes a context")
	})
}
