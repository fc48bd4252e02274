package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseInboundAddress(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ip   string
		port int
		err  string
	}{
		{in: "192.0.2.7", ip: "192.0.2.7"},
		{in: "192.0.2.7:5080", ip: "192.0.2.7", port: 5080},
		{in: "2001:db8::7", ip: "2001:db8::7"},
		{in: "[2001:db8::7]:5080", ip: "2001:db8::7", port: 5080},
		{in: "[2001:db8::7]", err: "is not an IP address, ip:port"},
		{in: "sip.example.com", err: "is not an IP address, ip:port"},
		{in: "sip.example.com:5060", err: "is not an IP address"},
		{in: "192.0.2.7:0", err: "bad port"},
		{in: "192.0.2.7:65536", err: "bad port"},
		{in: "192.0.2.7:x", err: "bad port"},
		{in: "", err: "is not an IP address, ip:port"},
	} {
		ip, port, err := ParseInboundAddress(tc.in)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.ip, ip.String(), tc.in)
		require.Equal(t, tc.port, port, tc.in)
	}
}

func TestValidateTrunkInbound(t *testing.T) {
	base := Trunk{Name: "carrier", Host: "192.0.2.1"}
	for _, tc := range []struct {
		name string
		edit func(*Trunk)
		errs []string // every one must be reported; none: valid
	}{
		{"address by default", func(*Trunk) {}, nil},
		{"address with ports", func(t *Trunk) {
			t.InboundAddresses = []string{"192.0.2.7:5080", "[2001:db8::7]:5061", "198.51.100.1"}
		}, nil},
		{"explicit address", func(t *Trunk) { t.InboundAuth = "address" }, nil},
		{"digest", func(t *Trunk) {
			t.InboundAuth, t.InboundUsername, t.InboundPassword = "digest", "pbx", "s3cret"
		}, nil},
		{"digest without credentials", func(t *Trunk) { t.InboundAuth = "digest" },
			[]string{"inbound_auth digest needs inbound_username and inbound_password (or SWITCHBOARD_TRUNK_CARRIER_INBOUND_PASSWORD)"}},
		{"digest without password", func(t *Trunk) { t.InboundAuth, t.InboundUsername = "digest", "pbx" },
			[]string{"needs inbound_username and inbound_password"}},
		{"credentials without digest", func(t *Trunk) { t.InboundUsername, t.InboundPassword = "pbx", "x" },
			[]string{"used only with inbound_auth: digest"}},
		{"every problem at once", func(t *Trunk) {
			t.InboundAuth, t.InboundUsername, t.InboundPassword = "Digest", "a b", "x\r\ny"
			t.InboundAddresses = []string{"192.0.2.7:99999", "pbx.example.com"}
		}, []string{`"192.0.2.7:99999": bad port`, `"pbx.example.com" is not an IP address`,
			`inbound_auth "Digest": want address or digest`, `inbound_username "a b": not a SIP user name`,
			"inbound_password: must not contain line breaks"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := base
			tc.edit(&tr)
			errs := validateTrunks([]Trunk{tr})
			if len(tc.errs) == 0 {
				require.Empty(t, errs)
				return
			}
			require.Len(t, errs, len(tc.errs), "%v", errs)
			for i, want := range tc.errs {
				require.ErrorContains(t, errs[i], want)
			}
		})
	}
}

func TestTrunkInboundPasswordFromEnv(t *testing.T) {
	c := Default()
	c.Trunks = []Trunk{{Name: "my-pbx", Host: "192.0.2.1", InboundAuth: "digest", InboundUsername: "pbx"}}
	require.ErrorContains(t, c.Validate(), "inbound_auth digest needs")
	env := map[string]string{"SWITCHBOARD_TRUNK_MY_PBX_INBOUND_PASSWORD": "from-env"}
	require.NoError(t, c.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
	require.Equal(t, "from-env", c.Trunks[0].InboundPassword)
	require.Empty(t, c.Trunks[0].Password) // the outbound password is another variable
	require.NoError(t, c.Validate())
}
