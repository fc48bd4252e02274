package sipua

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
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
		"192.0.2.1:5060": "any-backup", "192.0.2.51:5062": "us", "198.51.100.7:5060": "us-west",
		"192.0.2.3:5060":   "", // inbound_addresses replace the host
		"203.0.113.9:5060": "", "garbage": "",
	} {
		got := ""
		if tr := tt.fromSource(src); tr != nil {
			got = tr.Name
		}
		require.Equal(t, want, got, src)
	}
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

	require.Equal(t, anonymous, u.callerID(bare.ID, ""))
	require.Equal(t, anonymous, u.callerID(bare.ID, "+15550200001")) // not its number
	require.Equal(t, "+15550200001", u.callerID(withDefault.ID, "+15550200001"))
	require.Equal(t, "+15550200002", u.callerID(withDefault.ID, ""))
	require.Equal(t, "+15550200002", u.callerID(withDefault.ID, "+15550300001"))
	require.Equal(t, "+15550200002", u.callerID(withDefault.ID, "+15550200001\r\nX: y"))
	require.Equal(t, "+15550300001", u.callerID(foreignDefault.ID, ""))
}
