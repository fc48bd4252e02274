package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// startSRTPServer serves SIP over TLS with SRTP required.
func startSRTPServer(t *testing.T) (s *harness.Server, certFile string) {
	t.Helper()
	cert, key := selfSigned(t)
	s = harness.Start(t, func(c *config.Config) {
		c.SIP.TLSListen = "127.0.0.1:0"
		c.SIP.TLSCertFile, c.SIP.TLSKeyFile = cert, key
		c.SIP.TLSRequireSRTP = true
	})
	require.NotEmpty(t, s.SIP.TLSAddr())
	return s, cert
}

// srtpDeskPhone is baresip registered as alice over TLS with mandatory SRTP.
func srtpDeskPhone(t *testing.T, s *harness.Server, cert string) *harness.Baresip {
	t.Helper()
	desk := harness.StartBaresip(t, harness.BaresipOptions{User: "101", Password: "alice-sip-pass",
		Registrar: s.SIP.TLSAddr(), Transport: "tls", CAFile: cert, MediaEnc: "srtp-mand", ToneHz: 440})
	harness.CheckFor(t, 10*time.Second, func() error {
		cs := s.SIP.Registrar.Contacts(s.Alice.ID)
		if len(cs) != 1 || cs[0].Transport != "tls" {
			return strErr(fmt.Sprintf("alice's phone is not registered over TLS: %+v", cs))
		}
		return nil
	})
	return desk
}

// hungUp waits for the phone to take the BYE (so that the server does
// not wait for it on shutdown).
func hungUp(t *testing.T, desk *harness.Baresip) {
	t.Helper()
	desk.WaitPrinted(t, "closed", "the desk phone did not get the BYE")
}

// srtpEnabled waits for baresip to say the call's media is SRTP.
func srtpEnabled(t *testing.T, desk *harness.Baresip) {
	t.Helper()
	desk.WaitPrinted(t, "SRTP is Enabled (cryptosuite=AES_CM_128_HMAC_SHA1_80)", "baresip did not enable SRTP")
}

func TestSRTPDeskPhoneOverTLSCallsBrowser(t *testing.T) {
	s, cert := startSRTPServer(t)
	desk := srtpDeskPhone(t, s, cert)
	bob := s.Phone(t, s.Bob, 1000, "")
	desk.Command(t, "dial", "sip:102@"+s.SIP.TLSAddr()+";transport=tls")
	in := harness.NextIncoming(t, bob)
	require.Equal(t, "101", in.From)
	answer(t, in)
	harness.Wait(t, in, protocol.TypeCallAnswered)
	srtpEnabled(t, desk)
	harness.HearsTone(t, in, 440) // decrypted from the phone's SRTP
	desk.HeardTone(t, 1000)       // encrypted to the phone, which decrypts it
	require.NotContains(t, desk.Output(), "srtp: failed to decrypt RTP")
	require.NoError(t, in.Hangup())
	harness.WaitEnded(t, in, protocol.EndHangup)
	hungUp(t, desk)
}

func TestSRTPBrowserCallsDeskPhoneOverTLS(t *testing.T) {
	s, cert := startSRTPServer(t)
	desk := srtpDeskPhone(t, s, cert)
	bob := s.Phone(t, s.Bob, 1000, "")
	out := dial(t, bob, "101") // our offer to a TLS phone: RTP/SAVP with a=crypto
	harness.Wait(t, out, protocol.TypeCallAnswered)
	srtpEnabled(t, desk)
	harness.HearsTone(t, out, 440)
	desk.HeardTone(t, 1000)
	require.NotContains(t, desk.Output(), "srtp: failed to decrypt RTP")
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	hungUp(t, desk)
}

// TestSRTPRequiredRefusesPlainOfferOverTLS: with sip.tls_require_srtp, a
// plain RTP/AVP offer over TLS gets 488 with a Warning, and nobody rings.
func TestSRTPRequiredRefusesPlainOfferOverTLS(t *testing.T) {
	s, _ := startSRTPServer(t)
	bob := s.Phone(t, s.Bob, 1000, "")
	addr := s.SIP.TLSAddr()
	host, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	ua, err := sipgo.NewUA(sipgo.WithUserAgenTLSConfig(&tls.Config{InsecureSkipVerify: true}))
	require.NoError(t, err)
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	require.NoError(t, err)
	t.Cleanup(func() { client.Close(); ua.Close() })

	offer := "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
	callID := "srtp-required-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	target := sip.Uri{Scheme: "sip", User: "102", Host: host, Port: port}
	invite := func(seq uint32, auth string) *sip.Response {
		req := sip.NewRequest(sip.INVITE, target)
		req.SetTransport("TLS")
		req.AppendHeader(sip.NewHeader("From", "<sip:101@"+host+">;tag=tls488"))
		req.AppendHeader(sip.NewHeader("To", "<sip:102@"+host+">"))
		req.AppendHeader(sip.NewHeader("Call-ID", callID))
		req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: sip.INVITE})
		req.AppendHeader(sip.NewHeader("Contact", "<sip:101@127.0.0.1:5999;transport=tls>"))
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		if auth != "" {
			req.AppendHeader(sip.NewHeader("Proxy-Authorization", auth))
		}
		req.SetBody([]byte(offer))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := client.Do(ctx, req)
		require.NoError(t, err)
		return res
	}
	res := invite(1, "")
	require.Equal(t, 407, res.StatusCode)
	chal, err := digest.ParseChallenge(res.GetHeader("Proxy-Authenticate").Value())
	require.NoError(t, err)
	creds, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: target.String(),
		Username: "101", Password: "alice-sip-pass", Count: 1})
	require.NoError(t, err)
	res = invite(2, creds.String())
	require.Equal(t, 488, res.StatusCode, res.String())
	w := res.GetHeader("Warning")
	require.NotNil(t, w, res.String())
	require.Equal(t, `399 127.0.0.1 "SRTP required"`, w.Value())
	require.Zero(t, len(bob.Incoming()), "nobody rings for a call refused for its media")
}
