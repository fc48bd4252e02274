package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMediaTimeoutAndItsOldName(t *testing.T) {
	for _, tt := range []struct {
		name      string
		timeout   time.Duration
		old       time.Duration
		effective time.Duration
		bad       bool
	}{
		{"default", defaultMediaTimeout, 0, 30 * time.Second, false},
		{"timeout set", 5 * time.Second, 0, 5 * time.Second, false},
		{"disabled", 0, 0, 0, false},
		{"old name alone keeps its meaning", defaultMediaTimeout, 60 * time.Second, 60 * time.Second, false},
		{"both, the same", 10 * time.Second, 10 * time.Second, 10 * time.Second, false},
		{"both, different", 10 * time.Second, 20 * time.Second, 20 * time.Second, true},
		{"negative", -time.Second, 0, -time.Second, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Media.Timeout, c.Media.RTPTimeout = tt.timeout, tt.old
			require.Equal(t, tt.effective, c.Media.InactivityTimeout())
			err := c.Validate()
			if tt.bad {
				require.ErrorContains(t, err, "media.")
			} else {
				require.NoError(t, err)
			}
		})
	}
}

func TestOpusComplexityRange(t *testing.T) {
	for c, bad := range map[int]bool{-1: true, 0: false, 5: false, 10: false, 11: true} {
		cfg := Default()
		cfg.Media.OpusComplexity = c
		if err := cfg.Validate(); bad {
			require.ErrorContains(t, err, "media.opus_complexity", c)
		} else {
			require.NoError(t, err, c)
		}
	}
}
