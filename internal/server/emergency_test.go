package server

import (
	"net/netip"
	"testing"
)

func TestSameNetwork(t *testing.T) {
	for _, tc := range []struct {
		registered, ip string
		want           bool
	}{
		{"203.0.113.7", "203.0.113.7", true},
		{"203.0.113.7", "203.0.113.8", false},
		{"203.0.113.7", "::ffff:203.0.113.7", true},
		{"2001:db8:1:2::10", "2001:db8:1:2:aaaa:bbbb:cccc:dddd", true}, // a new temporary address, same /64
		{"2001:db8:1:2::10", "2001:db8:1:3::10", false},
		{"2001:db8:1:2::10", "203.0.113.7", false},
		{"", "203.0.113.7", false},
		{"junk", "203.0.113.7", false},
	} {
		if got := sameNetwork(tc.registered, netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("sameNetwork(%q, %s) = %v, want %v", tc.registered, tc.ip, got, tc.want)
		}
	}
}
