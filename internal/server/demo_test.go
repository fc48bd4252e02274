package server

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
)

func TestCheckDemoAddresses(t *testing.T) {
	for _, tc := range []struct {
		listen, sip, tls string
		demo, public     bool
		bad              []string
	}{
		{"127.0.0.1:8080", "127.0.0.1:5060", "", true, false, nil},
		{"localhost:8080", "[::1]:5060", "127.0.0.2:5061", true, false, nil},
		{"0.0.0.0:8080", "127.0.0.1:5060", "", true, false, []string{"--listen 0.0.0.0:8080"}},
		{"127.0.0.1:8080", "192.0.2.1:5060", "", true, false, []string{"--sip-listen 192.0.2.1:5060"}},
		{":8080", "[::]:5060", "0.0.0.0:5061", true, false, []string{"--listen :8080", "--sip-listen [::]:5060", "sip.tls_listen 0.0.0.0:5061"}},
		{"example.com:8080", "127.0.0.1:5060", "", true, false, []string{"--listen example.com:8080"}},
		{"0.0.0.0:8080", "0.0.0.0:5060", "", true, true, nil},
		{"0.0.0.0:8080", "0.0.0.0:5060", "", false, false, nil},
	} {
		cfg := config.Default()
		cfg.Listen, cfg.SIPListen, cfg.SIP.TLSListen, cfg.Demo = tc.listen, tc.sip, tc.tls, tc.demo
		err := CheckDemoAddresses(cfg, tc.public)
		if tc.bad == nil {
			require.NoError(t, err, "%+v", tc)
			continue
		}
		require.Error(t, err, "%+v", tc)
		require.Contains(t, err.Error(), "--demo-public")
		for _, b := range tc.bad {
			require.Contains(t, err.Error(), b)
		}
	}
}
