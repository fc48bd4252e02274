// Command opus measures what the bridge's Opus encoder costs per 20-ms
// frame of 8-kHz audio at each complexity, beside libopus's own default
// (10) measured in the same run, and what one transcoded direction of a
// call costs in a core (50 frames a second, decode included). The input
// is the hold music (several tones with a melody), closer to speech than
// a sine is. Opus is a perceptual codec, so a waveform SNR says nothing
// of how it sounds; that complexity 5 keeps the tones is checked by the
// transcoding e2e tests (tone detection through a bridged call).
//
//	go run ./bench/opus
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/switchboard-voice/switchboard/audio"
)

const rate = 8000

func main() {
	frames := flag.Int("frames", 500, "frames encoded per measurement (10 s of audio)")
	flag.Parse()
	pcm := make([][]int16, *frames)
	src := audio.NewMusic(rate)
	for i := range pcm {
		pcm[i] = make([]int16, audio.FrameSamples(rate))
		src.Read(pcm[i])
	}
	base := measure(audio.LibopusComplexity, pcm)
	fmt.Printf("Opus encode, 8 kHz mono, 32 kbit/s, %d frames per run (one run per line)\n", len(pcm))
	fmt.Printf("%-10s %12s %12s %16s\n", "complexity", "µs/frame", "vs libopus", "core/direction")
	for c := 10; c >= 0; c-- {
		r := base
		if c != audio.LibopusComplexity {
			r = measure(c, pcm)
		}
		mark := ""
		if c == audio.DefaultOpusComplexity {
			mark = "  <- server default"
		} else if c == audio.LibopusComplexity {
			mark = "  <- libopus default (baseline)"
		}
		fmt.Printf("%-10d %12.1f %11.2fx %15.2f%%%s\n", c, us(r.enc), float64(r.enc)/float64(base.enc),
			100*float64(r.enc+r.dec)*50/float64(time.Second), mark)
	}
	fmt.Printf("decode: %.1f µs/frame\n", us(base.dec))
}

type result struct {
	enc, dec time.Duration // per frame
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// measure encodes every frame with complexity c (best of three runs, so a
// noisy neighbour inflates no figure), then decodes them.
func measure(c int, pcm [][]int16) result {
	var r result
	var payloads [][]byte
	for range 3 {
		enc, err := audio.NewEncoderWith(audio.Opus, rate, audio.EncoderOptions{OpusComplexity: c})
		check(err)
		payloads = payloads[:0]
		start := time.Now()
		for _, f := range pcm {
			p, err := enc.Encode(f)
			check(err)
			payloads = append(payloads, p)
		}
		if d := time.Since(start) / time.Duration(len(pcm)); r.enc == 0 || d < r.enc {
			r.enc = d
		}
	}
	dec, err := audio.NewDecoder(audio.Opus, rate)
	check(err)
	start := time.Now()
	for _, p := range payloads {
		_, err := dec.Decode(p)
		check(err)
	}
	r.dec = time.Since(start) / time.Duration(len(payloads))
	return r
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "opus bench:", err)
		os.Exit(1)
	}
}
