package sipua

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/internal/store/sqlite"
)

func names(ts []*trunk) []string {
	out := []string{}
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func TestTrunkRouteOrder(t *testing.T) {
	resolve := func(_ context.Context, h string) ([]net.IP, error) {
		if h == "sip.example.com" {
			return []net.IP{net.ParseIP("192.0.2.50"), net.ParseIP("192.0.2.51")}, nil
		}
		return nil, errors.New("no such host")
	}
	tt, err := newTrunkTable([]config.Trunk{
		{Name: "any-backup", Host: "192.0.2.1", Priority: 9},
		{Name: "any", Host: "192.0.2.2", Priority: 1},
		{Name: "us", Host: "sip.example.com", Prefixes: []string{"+1"}, Priority: 5},
		{Name: "us-west", Host: "192.0.2.3", Prefixes: []string{"+1415", "+1650"}, Priority: 7,
			InboundAddresses: []string{"198.51.100.7"}},
		{Name: "us-cheap", Host: "192.0.2.4", Prefixes: []string{"+1"}, Priority: 2},
		{Name: "uk", Host: "192.0.2.5", Prefixes: []string{"+44"}},
		{Name: "gone", Host: "nowhere.invalid", Priority: 20},
	}, resolve)
	require.ErrorContains(t, err, "no such host") // reported; the trunk still calls out
	require.Equal(t, []string{"us-west", "us-cheap", "us", "any", "any-backup", "gone"}, names(tt.route("+14155550100")))
	require.Equal(t, []string{"us-cheap", "us", "any", "any-backup", "gone"}, names(tt.route("+12125550100")))
	require.Equal(t, []string{"uk", "any", "any-backup", "gone"}, names(tt.route("+442079460000")))

	for src, want := range map[string]string{
		"192.0.2.1:5060": "any-backup", "192.0.2.51:5060": "us", "198.51.100.7:5060": "us-west",
		"192.0.2.3:5060":   "", // inbound_addresses replace the host
		"203.0.113.9:5060": "", "garbage": "",
	} {
		got := ""
		if tr := tt.fromSource(src, "UDP"); tr != nil {
			got = tr.Name
		}
		require.Equal(t, want, got, src)
	}
}

// TestTrunkFromSource: over UDP an INVITE is a trunk's only from one of
// its addresses and the port that goes with it; over TCP and TLS the
// source port is ephemeral and only the IP counts.
func TestTrunkFromSource(t *testing.T) {
	resolve := func(_ context.Context, h string) ([]net.IP, error) {
		if h == "pbx.example.com" {
			return []net.IP{net.ParseIP("192.0.2.60"), net.ParseIP("2001:db8::60")}, nil
		}
		return nil, errors.New("no such host")
	}
	tt, err := newTrunkTable([]config.Trunk{
		{Name: "default-port", Host: "192.0.2.1"},
		{Name: "own-port", Host: "192.0.2.2", Port: 5080},
		{Name: "by-name", Host: "pbx.example.com", Port: 5070},
		{Name: "listed", Host: "192.0.2.3", Port: 5090, InboundAddresses: []string{
			"198.51.100.1", "198.51.100.2:5062", "2001:db8::1", "[2001:db8::2]:5064"}},
		{Name: "same-ip-a", Host: "192.0.2.4", Port: 5001},
		{Name: "same-ip-b", Host: "192.0.2.4", Port: 5002},
	}, resolve)
	require.NoError(t, err)
	for _, tc := range []struct {
		src, transport, want string
	}{
		{"192.0.2.1:5060", "UDP", "default-port"},
		{"192.0.2.1:5061", "UDP", ""}, // the trunk's IP, another port
		{"192.0.2.1:40000", "TCP", "default-port"},
		{"192.0.2.1:40000", "TLS", "default-port"},
		{"192.0.2.1:40000", "WS", "default-port"},
		{"192.0.2.1:5060", "", "default-port"},
		{"192.0.2.1:40000", "", ""}, // unknown transport: the strict rule
		{"192.0.2.2:5080", "udp", "own-port"},
		{"192.0.2.2:5060", "udp", ""}, // port is where we call and where it calls from
		{"192.0.2.60:5070", "UDP", "by-name"},
		{"[2001:db8::60]:5070", "UDP", "by-name"},
		{"[2001:db8::60]:5060", "UDP", ""},
		{"198.51.100.1:5090", "UDP", "listed"}, // an entry without port takes the trunk's
		{"198.51.100.1:5060", "UDP", ""},
		{"198.51.100.2:5062", "UDP", "listed"}, // an entry's own port wins
		{"198.51.100.2:5090", "UDP", ""},
		{"198.51.100.2:33333", "TCP", "listed"},
		{"[2001:db8::1]:5090", "UDP", "listed"},
		{"[2001:db8::2]:5064", "UDP", "listed"},
		{"[2001:db8::2]:5090", "UDP", ""},
		{"192.0.2.3:5090", "UDP", ""}, // inbound_addresses replace the host
		{"192.0.2.4:5001", "UDP", "same-ip-a"},
		{"192.0.2.4:5002", "UDP", "same-ip-b"}, // one host, two trunks: the port tells them apart
		{"192.0.2.4:5003", "UDP", ""},
		{"192.0.2.4:5003", "TCP", "same-ip-a"},
		{"203.0.113.9:5060", "UDP", ""},
		{"192.0.2.1", "UDP", ""},
		{"192.0.2.1:x", "UDP", ""},
		{"garbage", "TCP", ""},
	} {
		got := ""
		if tr := tt.fromSource(tc.src, tc.transport); tr != nil {
			got = tr.Name
		}
		require.Equal(t, tc.want, got, "%s over %q", tc.src, tc.transport)
	}

	// A dialog's flow: the same trunk, by the same rules, even after the
	// stored trunks are replaced by equal new values.
	stored := store.Trunk{ID: "trunk_x", Name: "stored", Host: "203.0.113.5", Port: 5099}
	require.NoError(t, tt.setStored([]store.Trunk{stored}))
	tr := tt.fromSource("203.0.113.5:5099", "UDP")
	require.NotNil(t, tr)
	flow := tt.flow(tr, "UDP")
	require.NoError(t, tt.setStored([]store.Trunk{stored}))
	require.True(t, flow("203.0.113.5:5099"))
	require.False(t, flow("203.0.113.5:5098"))
	require.False(t, flow("192.0.2.1:5060")) // another trunk
	require.True(t, tt.flow(tr, "TCP")("203.0.113.5:40001"))
}

func TestTrunkInputs(t *testing.T) {
	for in, want := range map[string]string{"+14155550100": "+14155550100", "14155550100": "+14155550100",
		"0414555": "", "101": "", "+1415\r\nX": "", "": ""} {
		require.Equal(t, want, didOf(in), in)
	}
	for _, tc := range []struct{ user, display, from, name string }{
		{"+15105550123", "Trunk Caller", "+15105550123", "Trunk Caller"},
		{"5105550123", "", "5105550123", ""},
		{"Anonymous", `"Evil" <x>`, anonymous, "Evil x"},
		{"123;x", "a\r\nb\x00c\\d", anonymous, "abcd"},
		{"", "A very long display name that goes on and on and on forever", anonymous, "A very long display name that goes on an"},
	} {
		from, name := trunkCaller(tc.user, tc.display)
		require.Equal(t, tc.from, from, tc.user)
		require.Equal(t, tc.name, name, tc.display)
	}
}

func TestCallerID(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	u := &UA{store: db}
	account := func(def string, numbers ...string) store.Account {
		a := store.Account{Name: "A", DefaultCallerID: def}
		require.NoError(t, db.CreateAccount(ctx, &a))
		for _, n := range numbers {
			require.NoError(t, db.CreatePhoneNumber(ctx, &store.PhoneNumber{AccountID: a.ID, Number: n}))
		}
		return a
	}
	bare := account("")
	withDefault := account("+15550200002", "+15550200001", "+15550200002")
	foreignDefault := account("+15550200001", "+15550300001") // the default is another account's

	for _, tc := range []struct {
		account             ident.AccountID
		requested           string
		from, asserted, why string
	}{
		{bare.ID, "", anonymous, "", "no number: anonymous, nothing to assert"},
		{bare.ID, "+15550200001", anonymous, "", "not its number"},
		{bare.ID, anonymous, anonymous, "", "withheld, and no number"},
		{withDefault.ID, "+15550200001", "+15550200001", "+15550200001", "its own number"},
		{withDefault.ID, "", "+15550200002", "+15550200002", "its default"},
		{withDefault.ID, "+15550300001", "+15550200002", "+15550200002", "another account's number"},
		{withDefault.ID, "+15550200001\r\nX: y", "+15550200002", "+15550200002", "garbage"},
		{withDefault.ID, anonymous, anonymous, "+15550200002", "withheld: the default is asserted"},
		{foreignDefault.ID, "", "+15550300001", "+15550300001", "a foreign default: its first number"},
		{foreignDefault.ID, anonymous, anonymous, "+15550300001", "withheld"},
	} {
		got := u.callerID(tc.account, tc.requested)
		require.Equal(t, callerIdentity{from: tc.from, asserted: tc.asserted}, got, tc.why)
	}
}
