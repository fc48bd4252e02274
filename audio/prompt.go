package audio

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// MaxPromptDuration bounds a prompt loaded by LoadPrompt.
const MaxPromptDuration = 30 * time.Second

// LoadPrompt reads a WAV file (as LoadWAV accepts) as mono PCM at rate,
// to be played once: at most MaxPromptDuration.
func LoadPrompt(path string, rate int) ([]int16, error) {
	if rate <= 0 {
		return nil, fmt.Errorf("audio: invalid target rate %d", rate)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("audio: %w", err)
	}
	if st.Size() > 64<<20 {
		return nil, fmt.Errorf("audio: %s: too large for a prompt", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audio: %w", err)
	}
	pcm, srcRate, err := decodeWAV(data)
	if err != nil {
		return nil, fmt.Errorf("audio: %s: %w", path, err)
	}
	if time.Duration(len(pcm))*time.Second/time.Duration(srcRate) > MaxPromptDuration {
		return nil, fmt.Errorf("audio: %s: longer than %v", path, MaxPromptDuration)
	}
	pcm = Resample(pcm, srcRate, rate)
	if len(pcm) == 0 {
		return nil, errors.New("audio: " + path + ": too short")
	}
	return pcm, nil
}
