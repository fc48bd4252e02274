package audio

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLoadPrompt(t *testing.T) {
	dir := t.TempDir()
	pcm := make([]int16, 16000)
	NewTone(500, 16000, 0.3).Read(pcm)
	p := filepath.Join(dir, "p.wav")
	require.NoError(t, WriteWAV(p, pcm, 16000))
	got, err := LoadPrompt(p, 8000)
	require.NoError(t, err)
	require.InDelta(t, 8000, len(got), 2, "one second at 8 kHz")
	long := filepath.Join(dir, "long.wav")
	require.NoError(t, WriteWAV(long, make([]int16, 8000*31), 8000))
	_, err = LoadPrompt(long, 8000)
	require.ErrorContains(t, err, "longer than")
	_, err = LoadPrompt(filepath.Join(dir, "none.wav"), 8000)
	require.Error(t, err)
}
