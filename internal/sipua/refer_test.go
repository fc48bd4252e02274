package sipua

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseReferTo(t *testing.T) {
	for _, tt := range []struct {
		in, dest, replaces string
		ok                 bool
	}{
		{"<sip:102@pbx.example>", "102", "", true},
		{"sip:+14155550100@10.0.0.1:5060", "+14155550100", "", true},
		{`"Bob" <sip:102@h;user=phone>`, "102", "", true},
		{"<sip:102@h?Replaces=abc%40host%3Bto-tag%3D1%3Bfrom-tag%3D2>", "102", "abc@host", true},
		{"<sip:x@h?Require=replaces&Replaces=b%2F%2F%2F1-2%40h%3Bto-tag%3Dt>", "x", "b///1-2@h", true},
		{"<sip:102@h", "", "", false},                         // unterminated
		{"<sip:bob@h>", "", "", false},                        // not a destination
		{"<sip:10%0D%0A2@h>", "", "", false},                  // CR/LF smuggled in the user part
		{"<sip:102@h?Replaces=%3Bto-tag%3D1>", "", "", false}, // no Call-ID
		{"<sip:102@h?Replaces=%ZZ>", "", "", false},
		{"", "", "", false},
	} {
		dest, repl, err := parseReferTo(tt.in)
		if !tt.ok {
			require.Error(t, err, "%q", tt.in)
			continue
		}
		require.NoError(t, err, "%q", tt.in)
		require.Equal(t, tt.dest, dest, "%q", tt.in)
		require.Equal(t, tt.replaces, repl, "%q", tt.in)
	}
}

func FuzzParseReferTo(f *testing.F) {
	for _, s := range []string{"<sip:102@h>", "<sip:102@h?Replaces=a%3Bto-tag%3D1>", "sip:+14155550100@h", "<>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		dest, repl, err := parseReferTo(s)
		if err != nil {
			return
		}
		if repl == "" && strings.ContainsAny(dest, "\r\n<>;@ ") {
			t.Fatalf("blind target %q from %q", dest, s)
		}
	})
}
