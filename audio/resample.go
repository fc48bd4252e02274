package audio

import "math"

// Resample converts mono PCM from one sample rate to another using linear
// interpolation. When downsampling, samples are first averaged over the
// decimation factor (exactly, in blocks, for integer factors) to limit
// aliasing. It returns len(pcm)*to/from samples; invalid rates give nil.
func Resample(pcm []int16, from, to int) []int16 {
	if from <= 0 || to <= 0 {
		return nil
	}
	if from == to {
		return append([]int16(nil), pcm...)
	}
	n := int(int64(len(pcm)) * int64(to) / int64(from))
	if n == 0 {
		return []int16{}
	}
	if from%to == 0 {
		return decimate(pcm, from/to, n)
	}
	src := pcm
	if k := from / to; k >= 2 {
		src = movingAverage(pcm, k)
	}
	out := make([]int16, n)
	last := len(src) - 1
	for i := range out {
		// Position in src, in units of 1/to source samples.
		num := int64(i) * int64(from)
		j := int(num / int64(to))
		frac := float64(num%int64(to)) / float64(to)
		if j >= last {
			out[i] = src[last]
			continue
		}
		v := float64(src[j]) + frac*(float64(src[j+1])-float64(src[j]))
		out[i] = int16(math.Round(v))
	}
	return out
}

// decimate averages each block of k samples into one, n blocks in all.
func decimate(pcm []int16, k, n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		sum := 0
		for _, s := range pcm[i*k : (i+1)*k] {
			sum += int(s)
		}
		out[i] = int16(math.Round(float64(sum) / float64(k)))
	}
	return out
}

// movingAverage returns the centred running mean of pcm over k samples.
func movingAverage(pcm []int16, k int) []int16 {
	out := make([]int16, len(pcm))
	half := k / 2
	sum, count := 0, 0
	// Window for output i covers [i-half, i-half+k).
	lo, hi := 0, 0
	for i := range out {
		for hi < len(pcm) && hi < i-half+k {
			sum += int(pcm[hi])
			count++
			hi++
		}
		for lo < i-half {
			sum -= int(pcm[lo])
			count--
			lo++
		}
		out[i] = int16(math.Round(float64(sum) / float64(count)))
	}
	return out
}
