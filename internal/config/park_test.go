package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParkRange(t *testing.T) {
	for _, tt := range []struct {
		slots       string
		first, last int
		ok, valid   bool
	}{
		{"701-720", 701, 720, true, true},
		{" 800 - 800 ", 800, 800, true, true},
		{"", 0, 0, false, true}, // off
		{"720-701", 0, 0, false, false},
		{"701", 0, 0, false, false},
		{"1-200", 0, 0, false, false},
		{"a-b", 0, 0, false, false},
		{"0-5", 0, 0, false, false},
	} {
		p := Park{Slots: tt.slots, Timeout: time.Minute}
		first, last, ok := p.Range()
		require.Equal(t, tt.ok, ok, tt.slots)
		require.Equal(t, [2]int{tt.first, tt.last}, [2]int{first, last}, tt.slots)
		require.Equal(t, tt.valid, len(p.validate()) == 0, tt.slots)
	}
	require.NotEmpty(t, Park{Slots: "701-720"}.validate(), "a timeout is needed")
	first, last, ok := Default().Park.Range()
	require.True(t, ok)
	require.Equal(t, [2]int{701, 720}, [2]int{first, last})
}
