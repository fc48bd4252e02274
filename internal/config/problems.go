package config

import (
	"net"
	"net/netip"
	"strings"
)

// Problem is a setting of a valid config that an administrator should
// still fix: it works, but is unsafe or fragile in production.
type Problem struct {
	Code    string // stable, for tooling
	Field   string // the config key (or environment variable) to change
	Message string
}

// minAdminKey is the shortest admin key not reported as weak (a generated
// key has 36 characters).
const minAdminKey = 24

// weakAdminKeys are keys seen in examples and tutorials.
var weakAdminKeys = []string{"admin", "changeme", "change-me", "secret", "password", "test", "switchboard"}

// Problems lists what the running config should not be doing, in a fixed
// order. A config that passed Validate may still have some.
func (c Config) Problems() []Problem {
	var out []Problem
	add := func(code, field, msg string) { out = append(out, Problem{Code: code, Field: field, Message: msg}) }
	if c.Demo {
		add("demo_mode", "demo", "demo mode is on: demo users exist and anyone who reaches the server can sign in as one")
	}
	if k := strings.ToLower(c.AdminKey); k != "" && (len(k) < minAdminKey || containsAny(k, weakAdminKeys)) {
		add("admin_key_weak", EnvAdminKey, "the admin key set in "+EnvAdminKey+" is short or a well-known word: unset it to have a random one generated, or use 24+ random characters")
	}
	if !c.TLS.Enabled() && !loopbackHost(c.Listen) {
		add("no_tls", "tls", "listen ("+c.Listen+") is reachable beyond this host without TLS: tokens and the admin key travel in clear text; set tls.cert_file and tls.key_file or put a TLS proxy in front")
	}
	if rtpIPGuessed(c) {
		add("rtp_ip_unset", "media.rtp_ip", "media.rtp_ip is not set and sip_listen names no single address: RTP is announced on a guessed address; set media.rtp_ip")
	}
	if c.Webhooks.AllowPrivate {
		add("webhooks_allow_private", "webhooks.allow_private", "webhook endpoints may target loopback and private addresses: anyone with the admin API can reach internal services through them")
	}
	return out
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// loopbackHost reports whether hostport listens on loopback only.
func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// rtpIPGuessed reports whether SIP parties' RTP address is picked from the
// host's interfaces: no media.rtp_ip (or an unspecified one) and a SIP
// listener on every address.
func rtpIPGuessed(c Config) bool {
	if ip, err := netip.ParseAddr(c.Media.RTPIP); err == nil && !ip.IsUnspecified() {
		return false
	}
	host, _, err := net.SplitHostPort(c.SIPListen)
	if err != nil {
		host = c.SIPListen
	}
	ip, err := netip.ParseAddr(host)
	return err != nil || ip.IsUnspecified()
}
