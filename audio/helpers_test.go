package audio

import (
	"time"
)

// readN reads n samples from src.
func readN(src Source, n int) []int16 {
	pcm := make([]int16, n)
	src.Read(pcm)
	return pcm
}

// detect writes pcm into a fresh detector covering all of it.
func detect(pcm []int16, rate int) *Detector {
	d := NewDetector(rate, time.Duration(len(pcm))*time.Second/time.Duration(rate))
	d.Write(pcm)
	return d
}
