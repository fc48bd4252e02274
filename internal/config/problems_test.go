package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProblems(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string
	}{
		{"default", func(*Config) {}, nil},
		{"demo", func(c *Config) { c.Demo = true }, []string{"demo_mode"}},
		{"short key", func(c *Config) { c.AdminKey = "abc123" }, []string{"admin_key_weak"}},
		{"word key", func(c *Config) { c.AdminKey = "changeme-changeme-changeme-1" }, []string{"admin_key_weak"}},
		{"strong key", func(c *Config) { c.AdminKey = "sbk_9f8a7d6c5b4e3f2a1b0c9d8e7f6a5b4c" }, nil},
		{"public no tls", func(c *Config) { c.Listen = "0.0.0.0:8080" }, []string{"no_tls"}},
		{"all interfaces no tls", func(c *Config) { c.Listen = ":8080" }, []string{"no_tls"}},
		{"public with tls", func(c *Config) { c.Listen = "192.0.2.1:443"; c.TLS = TLS{CertFile: "c", KeyFile: "k"} }, nil},
		{"localhost", func(c *Config) { c.Listen = "localhost:8080" }, nil},
		{"ipv6 loopback", func(c *Config) { c.Listen = "[::1]:8080" }, nil},
		{"sip any, no rtp ip", func(c *Config) { c.SIPListen = "0.0.0.0:5060" }, []string{"rtp_ip_unset"}},
		{"sip any, rtp ip unspecified", func(c *Config) { c.SIPListen = ":5060"; c.Media.RTPIP = "0.0.0.0" }, []string{"rtp_ip_unset"}},
		{"sip any, rtp ip set", func(c *Config) { c.SIPListen = "0.0.0.0:5060"; c.Media.RTPIP = "192.0.2.5" }, nil},
		{"webhooks private", func(c *Config) { c.Webhooks.AllowPrivate = true }, []string{"webhooks_allow_private"}},
		{"several, in order", func(c *Config) {
			c.Demo, c.AdminKey, c.Listen, c.Webhooks.AllowPrivate = true, "x", "0.0.0.0:80", true
		}, []string{"demo_mode", "admin_key_weak", "no_tls", "webhooks_allow_private"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(&c)
			var got []string
			for _, p := range c.Problems() {
				require.NotEmpty(t, p.Field)
				require.NotEmpty(t, p.Message)
				got = append(got, p.Code)
			}
			require.Equal(t, tc.want, got)
		})
	}
}
