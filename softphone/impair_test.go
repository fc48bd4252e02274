package softphone

import (
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

// recWriter records the sequence numbers written, and when.
type recWriter struct {
	mu   sync.Mutex
	seqs []uint16
	at   map[uint16]time.Time
}

func (w *recWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seqs = append(w.seqs, h.SequenceNumber)
	if w.at == nil {
		w.at = map[uint16]time.Time{}
	}
	w.at[h.SequenceNumber] = time.Now()
	return len(payload), nil
}

func (w *recWriter) written() []uint16 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]uint16(nil), w.seqs...)
}

func TestImpairmentLoss(t *testing.T) {
	drops := func(seed uint64) []uint16 {
		w := &recWriter{}
		im := newImpairer(Impairment{LossPct: 5, Seed: seed}, make(chan struct{}), slog.New(slog.DiscardHandler))
		for i := range 10000 {
			im.write(w, &rtp.Header{SequenceNumber: uint16(i)}, []byte{1})
		}
		return w.written()
	}
	a := drops(7)
	require.InDelta(t, 9500, len(a), 150, "about 5 % dropped")
	require.Equal(t, a, drops(7), "the same seed drops the same packets")
	require.NotEqual(t, a, drops(8))
}

func TestImpairmentJitter(t *testing.T) {
	quit := make(chan struct{})
	im := newImpairer(Impairment{JitterMax: 30 * time.Millisecond, Seed: 1}, quit, slog.New(slog.DiscardHandler))
	done := make(chan struct{})
	go func() {
		defer close(done)
		im.run()
	}()
	defer func() {
		close(quit)
		<-done
	}()
	w := &recWriter{}
	sent := map[uint16]time.Time{}
	for i := range 100 {
		sent[uint16(i)] = time.Now()
		im.write(w, &rtp.Header{SequenceNumber: uint16(i)}, []byte{1})
		time.Sleep(2 * time.Millisecond) // pacing the sender, as its 20-ms ticker does
	}
	require.Eventually(t, func() bool { return len(w.written()) == 100 }, 2*time.Second, 5*time.Millisecond, "every packet leaves")
	w.mu.Lock()
	defer w.mu.Unlock()
	var total time.Duration
	for _, s := range w.seqs {
		d := w.at[s].Sub(sent[s])
		require.Less(t, d, 30*time.Millisecond+500*time.Millisecond, "held at most JitterMax (plus scheduling on a busy machine)")
		total += d
	}
	require.Greater(t, total/100, 5*time.Millisecond, "held about 15 ms on average (uniform 0–30 ms)")
}
