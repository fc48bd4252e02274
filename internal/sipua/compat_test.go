package sipua

import (
	"errors"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/require"
)

func TestTightParams(t *testing.T) {
	for in, want := range map[string]string{
		`<sip:a@b> ; tag = x`:                 `<sip:a@b>;tag=x`,
		`"A ; B = C" <sip:a@b;lr> ;tag= y`:    `"A ; B = C" <sip:a@b;lr>;tag=y`,
		`"quote \" ; x = y" <sip:a@b>;q = 1`:  `"quote \" ; x = y" <sip:a@b>;q=1`,
		"<sip:a@b>\t;\ttag\t=\tz":             `<sip:a@b>;tag=z`,
		`sip:a@b;tag=plain`:                   `sip:a@b;tag=plain`,
		`<sip:a@b;maddr = 127.0.0.1> ; p = 1`: `<sip:a@b;maddr = 127.0.0.1>;p=1`,
	} {
		require.Equal(t, want, tightParams(in), in)
	}
}

func TestNameAddrParsers(t *testing.T) {
	p := newParser()
	parse := func(from string) (*sip.Request, error) {
		msg, err := p.ParseSIP([]byte("OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKx\r\n" +
			"From: " + from + "\r\nTo: <sip:a@127.0.0.1>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"))
		if err != nil {
			return nil, err
		}
		return msg.(*sip.Request), nil
	}
	req, err := parse(`"J" <sip:j@127.0.0.1>` + "\r\n  ;\r\n  tag = 98asjd8")
	require.NoError(t, err)
	tag, _ := req.From().Params.Get("tag")
	require.Equal(t, "98asjd8", tag, "LWS around = in a folded header")

	req, err = parse(`<sip:old@127.0.0.1>`)
	require.NoError(t, err)
	tag, _ = req.From().Params.Get("tag")
	require.True(t, strings.HasPrefix(tag, "rfc2543-"), "a tagless From gets a stable tag")
	again, _ := parse(`<sip:old@127.0.0.1>`)
	tag2, _ := again.From().Params.Get("tag")
	require.Equal(t, tag, tag2)

	_, err = parse(`Bell, Alexander <sip:a.g.bell@127.0.0.1>;tag=43`)
	require.ErrorIs(t, err, errBadDisplayName)
	_, err = parse(`sip:user@127.0.0.1?Route=%3Csip:127.0.0.2%3E`)
	require.ErrorIs(t, err, errUnenclosedHeaders)
	_, err = parse(`J.-Rosenberg_x+y~'z <sip:j@127.0.0.1>;tag=1`)
	require.NoError(t, err, "token display names are fine")
}

func TestFrameDatagram(t *testing.T) {
	two := "REGISTER sip:a SIP/2.0\r\nContent-Length: 0\r\n\r\n\r\nINVITE sip:b SIP/2.0\r\nl: 3\r\n\r\nabc"
	require.Equal(t, "REGISTER sip:a SIP/2.0\r\nContent-Length: 0\r\n\r\n", string(frameDatagram([]byte(two))))
	body := "MESSAGE sip:a SIP/2.0\r\nl: 3\r\n\r\nabcdef"
	require.Equal(t, "MESSAGE sip:a SIP/2.0\r\nl: 3\r\n\r\nabc", string(frameDatagram([]byte(body))))
	for _, keep := range []string{
		"OPTIONS sip:a SIP/2.0\r\nContent-Length: 9\r\n\r\nabc", // longer than the datagram: the parser refuses it
		"OPTIONS sip:a SIP/2.0\r\nContent-Length: -3\r\n\r\nabc",
		"OPTIONS sip:a SIP/2.0\r\n\r\nno length: the rest is the body",
		"no header end",
	} {
		require.Equal(t, keep, string(frameDatagram([]byte(keep))))
	}
}

func TestRawErrorResponse(t *testing.T) {
	const hdrs = "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa\r\nv: SIP/2.0/UDP 127.0.0.2\r\nf: <sip:a@127.0.0.1>;tag=1\r\n" +
		"t: <sip:b@127.0.0.1>\r\ni: call-1\r\nCSeq: 1 INVITE\r\n\r\n"
	cases := []struct {
		start  string
		status string
	}{
		{"INVITE sip:b@127.0.0.1 SIP/2.0", "SIP/2.0 400 Bad Request"},
		{"INVITE  sip:b@127.0.0.1  SIP/2.0", "SIP/2.0 400 Bad Request"},
		{"OPTIONS sip:b@127.0.0.1 SIP/7.0", "SIP/2.0 505 Version Not Supported"},
		{"OPTIONS soap.beep://127.0.0.1:9 SIP/2.0", "SIP/2.0 416 Unsupported URI Scheme"},
		{"OPTIONS <sip:b@127.0.0.1> SIP/2.0", "SIP/2.0 400 Bad Request"},
	}
	for _, tc := range cases {
		res := string(rawErrorResponse([]byte(tc.start+"\r\n"+hdrs), "127.0.0.9:5070", errors.New("bad \"thing\"\r\nX: y")))
		require.True(t, strings.HasPrefix(res, tc.status+"\r\n"), res)
		require.Contains(t, res, "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa;received=127.0.0.9\r\nVia: SIP/2.0/UDP 127.0.0.2\r\n")
		require.Contains(t, res, "\r\nCall-ID: call-1\r\n")
		require.Regexp(t, `\r\nTo: <sip:b@127\.0\.0\.1>;tag=\w+\r\n`, res)
		require.NotContains(t, res, "\r\nX: y", "the parse error cannot inject headers")
		require.True(t, strings.HasSuffix(res, "Content-Length: 0\r\n\r\n"))
	}
	for _, none := range []string{
		"SIP/2.0 200 OK\r\n" + hdrs, // a response
		"INVITE sip:b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1\r\n\r\n", // no Call-ID &c.: nowhere to answer
		"garbage",
	} {
		require.Nil(t, rawErrorResponse([]byte(none), "127.0.0.9:5070", nil), none)
	}
}

// FuzzCompat pushes arbitrary datagrams through the UDP path's own
// parsing: framing, the raw error response, and the header wrappers.
func FuzzCompat(f *testing.F) {
	f.Add([]byte("INVITE sip:b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKa\r\nFrom: \"x\" <sip:a@127.0.0.1> ; tag = 1\r\n" +
		"To: <sip:b@127.0.0.1>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 3\r\n\r\nabcdef"))
	f.Add([]byte("OPTIONS sip:b SIP/7.0\r\nv: SIP/2.0/UDP 127.0.0.1\r\nf: Bell, A <sip:a@127.0.0.1>\r\nt: b\r\ni: c\r\nCSeq: 1 OPTIONS\r\n\r\n"))
	f.Add([]byte("REGISTER sip:127.0.0.1 SIP/2.0\r\nContact: sip:u@127.0.0.1?Route=x\r\nl: -6\r\n\r\n\r\nINVITE"))
	p := newParser()
	f.Fuzz(func(t *testing.T, data []byte) {
		framed := frameDatagram(data)
		require.LessOrEqual(t, len(framed), len(data))
		_, err := p.ParseSIP(framed)
		res := rawErrorResponse(framed, "127.0.0.1:5060", err)
		if res == nil {
			return
		}
		head, _, ok := strings.Cut(string(res), "\r\n")
		require.True(t, ok)
		require.Contains(t, []string{"SIP/2.0 400 Bad Request", "SIP/2.0 505 Version Not Supported", "SIP/2.0 416 Unsupported URI Scheme"}, head)
		require.True(t, strings.HasSuffix(string(res), "\r\n\r\n"))
	})
}
