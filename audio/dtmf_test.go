package audio

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDTMFTable(t *testing.T) {
	tests := []struct {
		digit rune
		event byte
		ok    bool
		back  rune // DTMFDigit(event)
	}{
		{'0', 0, true, '0'}, {'5', 5, true, '5'}, {'9', 9, true, '9'},
		{'*', 10, true, '*'}, {'#', 11, true, '#'},
		{'A', 12, true, 'A'}, {'D', 15, true, 'D'},
		{'a', 12, true, 'A'}, {'d', 15, true, 'D'},
		{'E', 0, false, 0}, {'e', 0, false, 0}, {' ', 0, false, 0}, {'+', 0, false, 0}, {'٣', 0, false, 0},
	}
	for _, tc := range tests {
		t.Run(string(tc.digit), func(t *testing.T) {
			ev, ok := DTMFEvent(tc.digit)
			require.Equal(t, tc.ok, ok)
			if !ok {
				return
			}
			require.Equal(t, tc.event, ev)
			r, ok := DTMFDigit(ev)
			require.True(t, ok)
			require.Equal(t, tc.back, r)
		})
	}
	for _, ev := range []byte{16, 17, 255} { // flash and beyond are no digits
		_, ok := DTMFDigit(ev)
		require.False(t, ok, "event %d", ev)
	}
}
