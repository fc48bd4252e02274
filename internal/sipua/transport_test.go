package sipua

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLooksLikeSIP(t *testing.T) {
	for _, tc := range []struct {
		data string
		want bool
	}{
		{"INVITE sip:a@b SIP/2.0\r\nVia: x\r\n\r\n", true},
		{"SIP/2.0 200 OK\r\n\r\n", true},
		{"!interesting-Method0123456789_*+`.%indeed'~ sip:a@b SIP/2.0\r\n", true},
		{"OPTIONS sip:a@b SIP/7.0\r\n", true}, // answered 505, not dropped
		{"INVITE sip:a@b SIP/2.0", false},     // no line end: no headers
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n", false},
		{strings.Repeat("A", 9000) + " sip:x SIP/2.0\r\n", false},
		{"", false},
	} {
		require.Equal(t, tc.want, looksLikeSIP([]byte(tc.data)), "%.40q", tc.data)
	}
}

func TestLimitedLogBoundsAFlood(t *testing.T) {
	var out bytes.Buffer
	l := newLimitedLog(slog.New(slog.NewTextHandler(&out, nil)), time.Minute)
	now := time.Unix(1e9, 0)
	l.rate.SetClock(func() time.Time { return now })
	for range 100 {
		l.limited("10.0.0.1", "junk", "data", truncate(strings.Repeat("x", 10000), 64))
	}
	l.limited("10.0.0.2", "junk")
	require.Equal(t, 2, strings.Count(out.String(), "msg=junk"), "once per source per minute")
	require.Less(t, out.Len(), 400, "truncated")
	now = now.Add(time.Minute)
	l.limited("10.0.0.1", "junk")
	require.Equal(t, 3, strings.Count(out.String(), "msg=junk"))
	require.Contains(t, out.String(), "suppressed=99", "the next line counts the lines held back")
}

func TestMayDialOnlyOurRequests(t *testing.T) {
	require.ErrorIs(t, mayDial(context.Background()), errNoDial)
	require.NoError(t, mayDial(dialOut(context.Background())))
}
