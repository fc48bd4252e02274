package e2e

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// inboundPort reserves a free UDP port on 127.0.0.1 for a sipp that plays
// a trunk calling in: over UDP a trunk's INVITEs must come from its port.
func inboundPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	port := c.LocalAddr().(*net.UDPAddr).Port
	require.NoError(t, c.Close())
	return port
}

// callingTrunk is a trunk at 127.0.0.1 that calls in from port (and is
// never called out in these tests).
func callingTrunk(port int) config.Trunk {
	return config.Trunk{Name: "carrier", Host: "127.0.0.1", Port: port}
}

// fromPort makes sipp send from port (its last -p wins over the harness's).
func fromPort(port int) []string { return []string{"-p", strconv.Itoa(port)} }

// trustRawTrunk makes c's address (IP and port) a trunk's: a stored
// trunk, picked up at once.
func trustRawTrunk(t *testing.T, s *harness.Server, c *harness.RawSIP) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, s.Store.CreateTrunk(ctx, &store.Trunk{Name: "raw-carrier", Host: "127.0.0.1",
		InboundAddresses: []string{c.LocalAddr()}}))
	require.NoError(t, s.SIP.ReloadTrunks(ctx))
}

// noCallReached requires that nothing rang: no call on the server and
// none offered to the phones. A refusal (407, 403, 404) is sent before any
// call exists, so once sipp saw it there is nothing left to wait for.
func noCallReached(t *testing.T, s *harness.Server, phones ...*softphone.Phone) {
	t.Helper()
	require.Equal(t, 0, s.Calls.Count())
	for _, p := range phones {
		select {
		case c := <-p.Incoming():
			t.Fatalf("a refused trunk call reached a phone: %s", c.ID)
		default:
		}
	}
}

// TestTrunkTrustsAddressAndPort: over UDP, an INVITE from the trunk's IP
// but another port is a stranger's (challenged like a phone's); over TCP
// the source port is ephemeral and the IP is what counts.
func TestTrunkTrustsAddressAndPort(t *testing.T) {
	port := inboundPort(t)
	s := startWithTrunks(t, callingTrunk(port))
	alice := s.Phone(t, s.Alice, 0, "")

	t.Run("UDP from another port", func(t *testing.T) {
		sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uac_did_407.xml", Remote: s.SIP.Addr(), Service: did})
		sipp.RequireSuccess(t)
		require.NotEqual(t, port, sipp.Port)
		noCallReached(t, s, alice)
	})
	t.Run("UDP from the trunk's port", func(t *testing.T) {
		// An unowned number: a trusted trunk gets 404, a stranger 407.
		sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uac_did_404.xml", Remote: s.SIP.Addr(),
			Service: "+14155550177", Args: fromPort(port)})
		sipp.RequireSuccess(t)
	})
	t.Run("TCP from any port", func(t *testing.T) {
		sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uac_did_404.xml", Remote: s.SIP.Addr(),
			Service: "+14155550177", TCP: true})
		sipp.RequireSuccess(t)
	})
	t.Run("inbound_addresses with their own port", func(t *testing.T) {
		other := inboundPort(t)
		tr := callingTrunk(port) // Port: where calls go; inbound from the listed address only
		tr.InboundAddresses = []string{"127.0.0.1:" + strconv.Itoa(other)}
		s := startWithTrunks(t, tr)
		ok := harness.StartSipp(t, harness.SippOptions{Scenario: "uac_did_404.xml", Remote: s.SIP.Addr(),
			Service: "+14155550177", Args: fromPort(other)})
		ok.RequireSuccess(t)
		refused := harness.StartSipp(t, harness.SippOptions{Scenario: "uac_did_407.xml", Remote: s.SIP.Addr(),
			Service: did, Args: fromPort(port)})
		refused.RequireSuccess(t)
		noCallReached(t, s)
	})
}

// TestTrunkInboundDigest: with inbound_auth digest, an INVITE from the
// trunk's address is challenged; the right credentials reach Alice, wrong
// ones get 403.
func TestTrunkInboundDigest(t *testing.T) {
	port := inboundPort(t)
	tr := callingTrunk(port)
	tr.InboundAuth, tr.InboundUsername, tr.InboundPassword = "digest", "pbx", "pbx-secret"
	s := startWithTrunks(t, tr)
	alice := s.Phone(t, s.Alice, 700, "")

	t.Run("right credentials", func(t *testing.T) {
		sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uac_did_auth.xml", Remote: s.SIP.Addr(),
			Service: did, RTPEcho: true, Args: append(fromPort(port), "-au", "pbx", "-ap", "pbx-secret")})
		in := harness.NextIncoming(t, alice)
		require.Equal(t, "+15105550123", in.From)
		require.Equal(t, did, in.To)
		answer(t, in)
		harness.Wait(t, in, protocol.TypeCallAnswered)
		harness.HearsTone(t, in, 700) // echoed by the trunk
		require.NoError(t, in.Hangup())
		harness.WaitEnded(t, in, protocol.EndHangup)
		sipp.RequireSuccess(t) // 407, then 200 and our BYE
		msgs := sipp.Messages()
		require.Contains(t, msgs, "Proxy-Authenticate: Digest")
		require.Contains(t, msgs, `Proxy-Authorization: Digest username="pbx"`)
		require.Equal(t, "inbound", record(t, s, in.ID)["direction"])
	})
	for _, creds := range []struct{ name, user, pass string }{
		{"wrong password", "pbx", "guess"},
		{"a phone's credentials", "101", "alice-sip-pass"},
	} {
		t.Run(creds.name, func(t *testing.T) {
			sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uac_did_auth_403.xml", Remote: s.SIP.Addr(),
				Service: did, Args: append(fromPort(port), "-au", creds.user, "-ap", creds.pass)})
			sipp.RequireSuccess(t)
			noCallReached(t, s, alice)
		})
	}
	t.Run("no credentials", func(t *testing.T) {
		sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uac_did_407.xml", Remote: s.SIP.Addr(),
			Service: did, Args: fromPort(port)})
		sipp.RequireSuccess(t)
		noCallReached(t, s, alice)
	})
}

// TestTrunkReachesOnlyItsAccount: a trunk belongs to the default account;
// a number another account owns is 404 to it, like a number nobody has.
func TestTrunkReachesOnlyItsAccount(t *testing.T) {
	const otherDID = "+14155550188"
	port := inboundPort(t)
	s := startWithTrunks(t, callingTrunk(port))
	ctx := context.Background()
	other := store.Account{Name: "Other"}
	require.NoError(t, s.Store.CreateAccount(ctx, &other))
	erin := store.User{AccountID: other.ID, Name: "Erin", Extension: "201"}
	require.NoError(t, s.Store.CreateUser(ctx, &erin))
	require.NoError(t, s.Store.CreatePhoneNumber(ctx, &store.PhoneNumber{AccountID: other.ID, Number: otherDID, UserID: erin.ID}))
	erinPhone := s.Phone(t, erin, 0, "")
	alice := s.Phone(t, s.Alice, 0, "")

	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uac_did_404.xml", Remote: s.SIP.Addr(),
		Service: otherDID, Args: fromPort(port)})
	sipp.RequireSuccess(t)
	noCallReached(t, s, erinPhone, alice)
}

// TestTrunkInviteCarriesIdentity: the INVITE to a trunk asserts the
// account's number (RFC 3325) and says who we are and what we allow.
func TestTrunkInviteCarriesIdentity(t *testing.T) {
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_busy.xml"})
	s := startWithTrunks(t, trunkTo("carrier", sipp, 0))
	out := dial(t, s.Phone(t, s.Bob, 0, ""), external)
	harness.WaitEnded(t, out, protocol.EndBusy)
	sipp.RequireSuccess(t)
	inv := strings.ReplaceAll(sentInvite(t, sipp), "\r\n", "\n")
	require.Contains(t, inv, "\nFrom: <sip:"+did+"@127.0.0.1>;tag=")
	require.Contains(t, inv, "\nP-Asserted-Identity: <sip:"+did+"@127.0.0.1>\n")
	require.Contains(t, inv, "\nAllow: INVITE, ACK, CANCEL, BYE")
	require.Equal(t, 1, strings.Count(inv, "\nUser-Agent: "), inv)
	require.Contains(t, inv, "\nUser-Agent: Switchboard\n")
	require.NotContains(t, inv, "Privacy:")
}

// TestTrunkAnonymousCallerIDPrivacy: an account without numbers calls out
// anonymously: From is anonymous with Privacy: id, and there is no number
// to assert.
func TestTrunkAnonymousCallerIDPrivacy(t *testing.T) {
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_busy.xml"})
	s := harness.Start(t, func(c *config.Config) { c.Trunks = []config.Trunk{trunkTo("carrier", sipp, 0)} })
	out := dial(t, s.Phone(t, s.Bob, 0, ""), external)
	harness.WaitEnded(t, out, protocol.EndBusy)
	sipp.RequireSuccess(t)
	inv := strings.ReplaceAll(sentInvite(t, sipp), "\r\n", "\n")
	require.Contains(t, inv, "\nFrom: <sip:anonymous@anonymous.invalid>;tag=")
	require.Contains(t, inv, "\nPrivacy: id\n")
	require.NotContains(t, inv, "P-Asserted-Identity")
	require.Contains(t, inv, "\nUser-Agent: Switchboard\n")
	require.Contains(t, inv, "\nAllow: ")
}

// TestStoredTrunkInboundDigest: a trunk created through the REST API with
// inbound_auth digest is challenged like a config file trunk, and its
// inbound password is never shown.
func TestStoredTrunkInboundDigest(t *testing.T) {
	port := inboundPort(t)
	s := startWithTrunks(t)
	for _, tc := range []struct {
		body map[string]any
		code string
	}{
		{map[string]any{"inbound_auth": "cert"}, "invalid_inbound_auth"},
		{map[string]any{"inbound_auth": "digest", "inbound_username": "pbx"}, "invalid_inbound_credentials"},
		{map[string]any{"inbound_username": "pbx", "inbound_password": "x"}, "invalid_inbound_credentials"},
		{map[string]any{"inbound_auth": "digest", "inbound_username": "a b", "inbound_password": "x"}, "invalid_inbound_username"},
		{map[string]any{"inbound_auth": "digest", "inbound_username": "pbx", "inbound_password": "a\r\nb"}, "invalid_inbound_password"},
		{map[string]any{"inbound_addresses": []string{"127.0.0.1:0"}}, "invalid_inbound_address"},
	} {
		tc.body["name"], tc.body["host"] = "pbx", "127.0.0.1"
		r := s.Do(t, "POST", "/v1/trunks", admin, tc.body)
		require.Equal(t, 400, r.Status, "%v: %s", tc.body, r.Raw)
		require.Equal(t, tc.code, r.Body["code"], "%v", tc.body)
	}
	tr := createTrunk(t, s, map[string]any{"name": "pbx", "host": "127.0.0.1", "port": port,
		"inbound_auth": "digest", "inbound_username": "pbx", "inbound_password": "pbx-secret"})
	require.Equal(t, "digest", tr["inbound_auth"])
	require.Equal(t, "pbx", tr["inbound_username"])
	require.NotContains(t, string(s.Do(t, "GET", "/v1/trunks/"+tr["id"].(string), admin, nil).Raw), "pbx-secret")

	alice := s.Phone(t, s.Alice, 700, "")
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uac_did_auth.xml", Remote: s.SIP.Addr(),
		Service: did, Args: append(fromPort(port), "-au", "pbx", "-ap", "pbx-secret")})
	in := harness.NextIncoming(t, alice)
	require.Equal(t, did, in.To)
	answer(t, in)
	harness.Wait(t, in, protocol.TypeCallAnswered)
	require.NoError(t, in.Hangup())
	harness.WaitEnded(t, in, protocol.EndHangup)
	sipp.RequireSuccess(t)
	require.Contains(t, sipp.Messages(), `Proxy-Authorization: Digest username="pbx"`)
}
