package call

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// memRecords keeps quality series too.
func (r *memRecords) SaveCallQuality(_ context.Context, id ident.CallID, legs []store.LegQuality) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.q == nil {
		r.q = map[ident.CallID][]store.LegQuality{}
	}
	r.q[id] = legs
	return nil
}

func (r *memRecords) GetCallQuality(_ context.Context, id ident.CallID) ([]store.LegQuality, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.q[id], nil
}

// setStats makes the n-th leg of kind report s from now on.
func (f *simMedia) setStats(t testing.TB, kind string, n int, s MediaStats) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range f.legs {
		if l.kind == kind {
			if n == 0 {
				l.stats = &s
				return
			}
			n--
		}
	}
	t.Fatalf("no %s leg number %d", kind, n)
}

func TestQualitySampling(t *testing.T) {
	w := newWorld(t)
	a1, _, id := connected(t, w)
	caller := func(recv uint64, lost int64) {
		w.media.setStats(t, "webrtc", 0, MediaStats{Codec: "opus", PacketsReceived: recv, PacketsLost: lost, JitterMillis: 2})
	}
	callee := func(recv uint64, lost int64) {
		w.media.setStats(t, "webrtc", 1, MediaStats{Codec: "PCMU", PacketsReceived: recv, PacketsLost: lost, JitterMillis: 10})
	}
	caller(250, 0)
	callee(240, 10) // 4 % lost in the first window
	w.tick(qualityInterval)
	caller(500, 0)
	callee(490, 10) // clean
	w.tick(qualityInterval)
	caller(750, 0) // the callee sends nothing (held, silent): no window
	w.tick(qualityInterval)
	a1.hangup(id)
	w.noCalls()
	w.tick(qualityInterval) // nothing after the end

	rec := w.record(id)
	require.Len(t, rec.Legs, 2)
	byRole := map[string]store.LegStats{}
	for _, l := range rec.Legs {
		byRole[l.Role] = l
	}
	cq, bq := byRole["caller"].Quality, byRole["callee"].Quality
	require.NotNil(t, cq)
	require.NotNil(t, bq)
	require.Equal(t, store.QualitySummary{AvgMOS: 4.41, MinMOS: 4.41, Worst: store.QualityWindow{OffsetS: 0, MOS: 4.41}, Samples: 3}, *cq)
	require.Equal(t, 2, bq.Samples)
	require.Equal(t, 0, bq.Worst.OffsetS, "the lossy window")
	require.Equal(t, bq.MinMOS, bq.Worst.MOS)
	require.InDelta(t, 4.03, bq.MinMOS, 0.01, "4 % random loss on G.711 (R 80.1)")
	require.InDelta(t, (bq.MinMOS+4.41)/2, bq.AvgMOS, 0.01)

	series, err := w.recs.GetCallQuality(context.Background(), id)
	require.NoError(t, err)
	require.Len(t, series, 2)
	got := map[ident.LegID][]store.QualitySample{}
	for _, s := range series {
		got[s.LegID] = s.Samples
	}
	cs, bs := got[byRole["caller"].LegID], got[byRole["callee"].LegID]
	require.Len(t, cs, 3)
	require.Equal(t, []int{0, 5, 10}, []int{cs[0].OffsetS, cs[1].OffsetS, cs[2].OffsetS})
	require.Len(t, bs, 2)
	require.Equal(t, 4.0, bs[0].LossPct)
	require.Equal(t, 10.0, bs[0].JitterMs)
	require.Equal(t, 0.0, bs[1].LossPct)
	require.Nil(t, bs[0].RTTMs, "our stats carry no RTT")
}

func TestQualityUnansweredCallHasNone(t *testing.T) {
	w := newWorld(t)
	a1, b1 := w.device("sess_a1", "user_a"), w.device("sess_b1", "user_b")
	id := a1.dial("102")
	w.expect(b1, "incoming", "offer")
	w.tick(qualityInterval)
	w.tick(qualityInterval)
	a1.hangup(id)
	w.noCalls()
	for _, l := range w.record(id).Legs {
		require.Nil(t, l.Quality)
	}
	series, err := w.recs.GetCallQuality(context.Background(), id)
	require.NoError(t, err)
	require.Empty(t, series)
}

func TestQualitySeriesBounded(t *testing.T) {
	var lq legQuality
	at := time.Unix(0, 0)
	for i := range maxQualitySamples + 5 {
		mos := 4.4
		if i == 2 {
			mos = 2.5 // dropped from the series, kept in the summary
		}
		lq.add(store.QualitySample{At: at, OffsetS: 5 * i, MOS: mos})
	}
	require.Len(t, lq.samples, maxQualitySamples)
	require.Equal(t, 25, lq.samples[0].OffsetS, "the oldest five dropped")
	require.Equal(t, maxQualitySamples+5, lq.sum.Samples)
	require.Equal(t, store.QualityWindow{OffsetS: 10, MOS: 2.5}, lq.sum.Worst)
	require.Equal(t, 2.5, lq.sum.MinMOS)
	require.InDelta(t, 4.4, lq.sum.AvgMOS, 0.01)
}
