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

// TestImpairmentJitter: each packet is held for its drawn delay (0–30
// ms, the seed's), never less, and every one leaves. How much later than due a packet leaves is the machine's
// scheduling, which the test does not bound.
func TestImpairmentJitter(t *testing.T) {
	imp := Impairment{JitterMax: 30 * time.Millisecond, Seed: 1}
	quit := make(chan struct{})
	im := newImpairer(imp, quit, slog.New(slog.DiscardHandler))
	done := make(chan struct{})
	go func() {
		defer close(done)
		im.run()
	}()
	defer func() {
		close(quit)
		<-done
	}()
	ref := newImpairer(imp, nil, slog.New(slog.DiscardHandler)) // draws the same delays
	w := &recWriter{}
	sent := map[uint16]time.Time{}
	drawn := map[uint16]time.Duration{}
	var total time.Duration
	for i := range 100 {
		seq := uint16(i)
		drawn[seq] = ref.delay()
		require.LessOrEqual(t, drawn[seq], imp.JitterMax)
		total += drawn[seq]
		sent[seq] = time.Now()
		im.write(w, &rtp.Header{SequenceNumber: seq}, []byte{1})
		time.Sleep(2 * time.Millisecond) // pacing the sender, as its 20-ms ticker does
	}
	require.InDelta(t, 15*time.Millisecond, total/100, float64(5*time.Millisecond), "uniform 0–30 ms")
	require.Eventually(t, func() bool { return len(w.written()) == 100 }, 10*time.Second, 5*time.Millisecond, "every packet leaves")
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.seqs {
		require.GreaterOrEqual(t, w.at[s].Sub(sent[s]), drawn[s], "packet %d held its delay", s)
	}
}
