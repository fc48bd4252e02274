package sipua

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseDTMFInfo(t *testing.T) {
	for _, tt := range []struct {
		body  string
		digit rune
		dur   time.Duration
		ok    bool
	}{
		{"Signal=5\r\nDuration=160", '5', 160 * time.Millisecond, true},
		{"Signal= #\r\nDuration=250\r\n", '#', 250 * time.Millisecond, true},
		{"signal=10", '*', defaultInfoDuration, true},
		{"Signal=11\nDuration=x", '#', defaultInfoDuration, true},
		{"7", '7', defaultInfoDuration, true},
		{"D", 'D', defaultInfoDuration, true},
		{"Signal=12", 0, 0, false},
		{"Signal=", 0, 0, false},
		{"Duration=100", 0, 0, false},
		{"x", 0, 0, false},
	} {
		digit, dur, ok := parseDTMFInfo(tt.body)
		require.Equal(t, tt.ok, ok, tt.body)
		require.Equal(t, tt.digit, digit, tt.body)
		require.Equal(t, tt.dur, dur, tt.body)
	}
}
