package signal

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestClipUserAgent(t *testing.T) {
	long := strings.Repeat("a", maxUserAgent-1) + "é" // the é straddles the cut
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"short", "Mozilla/5.0", "Mozilla/5.0"},
		{"exact", strings.Repeat("x", maxUserAgent), strings.Repeat("x", maxUserAgent)},
		{"long", strings.Repeat("x", 1000), strings.Repeat("x", maxUserAgent)},
		{"rune cut", long, strings.Repeat("a", maxUserAgent-1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := clip(tc.in)
			require.Equal(t, tc.want, got)
			require.True(t, utf8.ValidString(got))
		})
	}
}
