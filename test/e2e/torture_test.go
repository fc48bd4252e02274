package e2e

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/test/harness"
)

// torture is what the server should do with each of RFC 4475's 49
// messages (testdata/sip/rfc4475: host names and addresses rewritten to
// 127.0.x.y, lengths unchanged). want lists the acceptable statuses; none
// means the message must be dropped (the five responses, which match no
// transaction of ours). Over TCP, messages marked tcpDrop may be dropped
// instead: a stream that does not parse cannot be framed again, so sipgo
// closes it (the issue allows "400 ... or dropped"); over UDP they are
// answered (compat.go). An INVITE from an
// unknown source is challenged (407) before its body or target is
// looked at, as a B2BUA's first step is authentication: that is the
// sensible answer for the valid ones.
var torture = []struct {
	name string
	want []int
	// tcpDrop: over TCP the message may also be dropped: a stream that
	// sipgo cannot parse is closed, and whether it parses can depend on
	// how the bytes arrive.
	tcpDrop bool
	// tcpAlso are answers that are right over TCP only.
	tcpAlso []int
	why     string
	// tcpDeviation explains why the TCP answer is not what RFC 4475
	// asks for; such a message counts as explained, not correct.
	tcpDeviation string
}{
	// §3.1.1: valid messages.
	{name: "wsinv", want: []int{481}, why: "valid, and it carries a To tag: an INVITE in a dialog we do not have"},
	{name: "intmeth", want: []int{405}, why: "an unknown but valid method"},
	{name: "esc01", want: []int{407}},
	{name: "escnull", want: []int{401}},
	{name: "esc02", want: []int{405}, why: "RE%47IST%45R is not REGISTER"},
	{name: "lwsdisp", want: []int{200}},
	{name: "longreq", want: []int{407}},
	{name: "dblreq", want: []int{401}, tcpDrop: true, why: "the REGISTER is answered; over UDP the INVITE after it is ignored",
		// Over a stream the INVITE is a second request (RFC 3261 §18.3
		// frames by Content-Length), handled beside the REGISTER, so its
		// 407 may be written first.
		tcpAlso: []int{407},
		tcpDeviation: "sipgo's stream parser does not skip the CRLF between the two messages (RFC 3261 §7.5 says to), " +
			"and closes the connection, usually before the REGISTER's 401 is written"},
	{name: "semiuri", want: []int{200}},
	{name: "transports", want: []int{200}},
	{name: "mpart01", want: []int{405}, why: "MESSAGE is not a method we take"},
	{name: "unreason", why: "a response matching nothing of ours"},
	{name: "noreason", why: "a response matching nothing of ours"},
	// §3.1.2: invalid messages.
	{name: "badinv01", want: []int{400}, tcpDrop: true},
	{name: "clerr", want: []int{400}, tcpDrop: true, why: "over TCP the server waits for the body the Content-Length promises"},
	{name: "ncl", want: []int{400}, tcpDrop: true, why: "a negative Content-Length; over TCP the stream cannot be framed: the connection is dropped"},
	{name: "scalar02", want: []int{400}, tcpDrop: true},
	{name: "scalarlg", why: "a response"},
	{name: "quotbal", want: []int{400}, tcpDrop: true},
	{name: "ltgtruri", want: []int{400}, tcpDrop: true},
	{name: "lwsruri", want: []int{400}, tcpDrop: true},
	{name: "lwsstart", want: []int{400}, tcpDrop: true},
	{name: "trws", want: []int{400, 200}, tcpDrop: true, why: "trailing SP after the version: refused or tolerated"},
	{name: "escruri", want: []int{400, 407}, why: "an escaped header in the Request-URI: refused or ignored"},
	{name: "baddate", want: []int{407}, why: "a bad Date is ignored"},
	{name: "regbadct", want: []int{400}, tcpDrop: true},
	{name: "badaspec", want: []int{400}, tcpDrop: true},
	{name: "baddn", want: []int{400}, tcpDrop: true},
	{name: "badvers", want: []int{505}},
	{name: "mismatch01", want: []int{400}},
	{name: "mismatch02", want: []int{400}},
	{name: "bigcode", why: "a response"},
	// §3.2: transaction layer.
	{name: "badbranch", want: []int{200}, why: "a branch without the magic cookie is an RFC 2543 transaction"},
	// §3.3: application layer.
	{name: "insuf", want: []int{400}},
	{name: "unkscm", want: []int{416}},
	{name: "novelsc", want: []int{416}, tcpDrop: true,
		tcpDeviation: "sipgo's stream parser refuses the Request-URI's scheme, so the connection is closed instead of a 416"},
	{name: "unksm2", want: []int{401}, why: "unknown schemes in To/From/Contact are not refused"},
	{name: "bext01", want: []int{420}},
	{name: "invut", want: []int{407, 415}, why: "challenged before its body is looked at"},
	{name: "regaut01", want: []int{401}},
	{name: "multi01", want: []int{400}},
	{name: "mcl01", want: []int{400}, tcpDrop: true},
	{name: "bcast", why: "a response"},
	{name: "zeromf", want: []int{200, 483}, why: "Max-Forwards 0 to an endpoint: answered"},
	{name: "cparam01", want: []int{401}},
	{name: "cparam02", want: []int{401}},
	{name: "regescrt", want: []int{401, 400}},
	{name: "sdp01", want: []int{407, 406}, why: "challenged before its Accept is looked at"},
	// §3.4: backward compatibility.
	{name: "inv2543", want: []int{407}, tcpDrop: true, why: "an RFC 2543 INVITE is accepted (and challenged); over TCP it has no Content-Length, which a stream needs (RFC 3261 §18.3)"},
}

// topVia finds the address the top Via names (RFC 3261 §18.2.2: a UDP
// response goes to the source IP at that port), through LWS and folding.
var topVia = regexp.MustCompile(`(?is)(?:^|\n)(?:via|v)[ \t]*:\s*SIP\s*/\s*[0-9.]+\s*/\s*[a-z]+\s+(\[[0-9a-f:]+\]|[0-9.]+)(?:\s*:\s*([0-9]+))?`)

// tortureUDP sends data from the address its top Via names and returns
// the status of the first response, or 0 when none came in time.
func tortureUDP(t *testing.T, server string, data []byte, wait time.Duration) int {
	t.Helper()
	laddr := &net.UDPAddr{IP: net.ParseIP("127.0.0.1")}
	if m := topVia.FindSubmatch(data); m != nil {
		laddr.IP = net.ParseIP(string(m[1]))
		laddr.Port = 5060
		if len(m[2]) > 0 {
			laddr.Port, _ = strconv.Atoi(string(m[2]))
		}
	}
	conn, err := net.ListenUDP("udp", laddr)
	require.NoError(t, err, "listen where the Via points")
	defer conn.Close()
	raddr, err := net.ResolveUDPAddr("udp", server)
	require.NoError(t, err)
	_, err = conn.WriteToUDP(data, raddr)
	require.NoError(t, err)
	return readStatus(t, func(b []byte) (int, error) {
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(wait)))
		return conn.Read(b)
	})
}

func tortureTCP(t *testing.T, server string, data []byte, wait time.Duration) int {
	t.Helper()
	c := harness.DialRawSIP(t, "tcp", "127.0.0.1", server)
	defer c.Close()
	c.Send(t, data)
	msg, err := c.Read(wait)
	if errors.Is(err, harness.ErrNoMessage) || errors.Is(err, io.EOF) {
		return 0 // no answer, or the connection closed: the message was dropped
	}
	require.NoError(t, err)
	return statusOf(t, msg)
}

func readStatus(t *testing.T, read func([]byte) (int, error)) int {
	buf := make([]byte, 1<<16)
	n, err := read(buf)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return 0
	}
	require.NoError(t, err)
	msg, err := sip.ParseMessage(buf[:n])
	if err != nil {
		// Our answer to a malformed request copies its (malformed) Via,
		// From, To back, as RFC 3261 §8.2.6.2 asks: read the status line.
		var status int
		_, serr := fmt.Sscanf(string(buf[:n]), "SIP/2.0 %d", &status)
		require.NoError(t, serr, "not a SIP response: %q", buf[:n])
		t.Logf("%d (raw)", status)
		return status
	}
	return statusOf(t, msg)
}

func statusOf(t *testing.T, msg sip.Message) int {
	res, ok := msg.(*sip.Response)
	require.True(t, ok, "the server sent a request back:\n%s", msg)
	t.Logf("%d %s", res.StatusCode, res.Reason)
	return res.StatusCode
}

// TestRFC4475Torture sends every RFC 4475 message over UDP and over TCP to
// a running server, checks each answer, and that the server is still up.
func TestRFC4475Torture(t *testing.T) {
	require.Len(t, torture, 49)
	nets := transports
	if n := os.Getenv("TORTURE_NET"); n != "" {
		nets = []string{n}
	}
	for _, network := range nets {
		t.Run(network, func(t *testing.T) {
			// A server per transport: the same message sent again within
			// 32 s matches the first one's transaction (RFC 3261 §17.2.3
			// ignores the transport) and is answered as a retransmission.
			s := harness.Start(t, nil)
			var wrong, explained []string
			for _, tc := range torture {
				if only := os.Getenv("TORTURE_ONLY"); only != "" && only != tc.name {
					continue
				}
				data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sip", "rfc4475", tc.name+".dat"))
				require.NoError(t, err)
				want := tc.want
				if network == "tcp" && tc.tcpDrop {
					want = append([]int{0}, want...)
				}
				if network == "tcp" {
					want = append(slices.Clone(want), tc.tcpAlso...)
				}
				wait := 3 * time.Second
				if len(want) == 0 || slices.Equal(want, []int{0}) {
					wait = 500 * time.Millisecond // long enough for a wrong answer to show
				}
				var got int
				if network == "udp" {
					got = tortureUDP(t, s.SIP.Addr(), data, wait)
				} else {
					got = tortureTCP(t, s.SIP.Addr(), data, wait)
				}
				ok := len(want) == 0 && got == 0 || slices.Contains(want, got)
				switch {
				case !ok:
					wrong = append(wrong, tc.name+": got "+strconv.Itoa(got)+", want "+fmtStatuses(want))
				case network == "tcp" && tc.tcpDeviation != "" && got == 0:
					explained = append(explained, tc.name+": "+tc.tcpDeviation)
				}
			}
			harness.SIPAlive(t, s.SIP.Addr())
			correct := len(torture) - len(wrong) - len(explained)
			t.Logf("%d of %d handled as RFC 4475 expects over %s; explained: %q", correct, len(torture), network, explained)
			require.Empty(t, wrong)
			require.GreaterOrEqual(t, correct, 47)
		})
	}
}

func fmtStatuses(want []int) string {
	if len(want) == 0 {
		return "no response"
	}
	out := ""
	for i, w := range want {
		if i > 0 {
			out += " or "
		}
		out += strconv.Itoa(w)
	}
	return out
}
