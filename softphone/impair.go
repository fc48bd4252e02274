package softphone

import (
	"container/heap"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/pion/rtp"
)

// Impairment degrades a phone's outgoing audio on purpose, so tests can
// check what the server measures of a bad network: each audio packet is
// dropped with probability LossPct/100, and the others are held back a
// random 0–JitterMax before they leave (packets may overtake each other,
// as on a real network). The same Seed drops and delays the same packets.
// DTMF events are not impaired.
type Impairment struct {
	LossPct   float64       // 0–100
	JitterMax time.Duration // 0: no added delay
	Seed      uint64
}

// impairer applies an Impairment to one call's audio. drop and delay run
// on the sender goroutine; run, the delay line, on its own (owned by the
// endpoint's wait group, stopped by quit).
type impairer struct {
	imp  Impairment
	rng  *rand.Rand // sender goroutine only
	in   chan held
	quit <-chan struct{}
	log  *slog.Logger
}

// held is a packet waiting in the delay line.
type held struct {
	due     time.Time
	seq     uint64 // arrival order, to break ties
	w       rtpWriter
	h       rtp.Header
	payload []byte
}

// rtpWriter is the part of pion's TrackLocalWriter the sender uses.
type rtpWriter interface {
	WriteRTP(h *rtp.Header, payload []byte) (int, error)
}

func newImpairer(imp Impairment, quit <-chan struct{}, log *slog.Logger) *impairer {
	return &impairer{imp: imp, rng: rand.New(rand.NewPCG(imp.Seed, imp.Seed^0x9e3779b97f4a7c15)),
		in: make(chan held, 64), quit: quit, log: log}
}

// write sends one audio packet through the impairment: dropped, delayed,
// or (with no jitter) written at once.
func (im *impairer) write(w rtpWriter, h *rtp.Header, payload []byte) {
	if im.imp.LossPct > 0 && im.rng.Float64()*100 < im.imp.LossPct {
		return
	}
	if im.imp.JitterMax <= 0 {
		writeRTP(im.log, w, h, payload)
		return
	}
	p := held{due: time.Now().Add(im.delay()), w: w, h: *h, payload: append([]byte(nil), payload...)}
	select {
	case im.in <- p:
	case <-im.quit:
	}
}

// delay draws the next packet's hold, uniform in 0–JitterMax.
func (im *impairer) delay() time.Duration {
	return time.Duration(im.rng.Int64N(int64(im.imp.JitterMax) + 1))
}

// run is the delay line: it writes each held packet when it is due.
func (im *impairer) run() {
	var q heldQueue
	var n uint64
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-im.quit:
			return
		case p := <-im.in:
			n++
			p.seq = n
			heap.Push(&q, p)
		case <-timer.C:
		}
		now := time.Now()
		for q.Len() > 0 && !q[0].due.After(now) {
			p := heap.Pop(&q).(held)
			writeRTP(im.log, p.w, &p.h, p.payload)
		}
		next := time.Hour
		if q.Len() > 0 {
			next = q[0].due.Sub(now)
		}
		timer.Reset(next)
	}
}

func writeRTP(log *slog.Logger, w rtpWriter, h *rtp.Header, payload []byte) {
	if _, err := w.WriteRTP(h, payload); err != nil && !errors.Is(err, io.ErrClosedPipe) {
		log.Debug("softphone: write rtp", "err", err)
	}
}

// heldQueue is a min-heap of held packets by due time.
type heldQueue []held

func (q heldQueue) Len() int { return len(q) }
func (q heldQueue) Less(i, j int) bool {
	if q[i].due.Equal(q[j].due) {
		return q[i].seq < q[j].seq
	}
	return q[i].due.Before(q[j].due)
}
func (q heldQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *heldQueue) Push(x any)   { *q = append(*q, x.(held)) }
func (q *heldQueue) Pop() any {
	old := *q
	p := old[len(old)-1]
	*q = old[:len(old)-1]
	return p
}
