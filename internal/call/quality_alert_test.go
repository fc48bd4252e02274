package call

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/store"
)

// syncBuffer is a log sink the actors may write to concurrently.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines(substr string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range strings.Split(s.b.String(), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

// A leg under 3.5 for three windows in a row is reported once per dip:
// a WARN line and a call.quality event; a good window ends the dip, and a
// window without packets neither extends nor ends it.
func TestQualityDipAlert(t *testing.T) {
	w := newWorld(t)
	ev := &evRecords{memRecords: w.recs}
	w.m.records = ev
	logs := &syncBuffer{}
	w.m.log = slog.New(slog.NewTextHandler(logs, nil))
	a1, b1, id := connected(t, w)

	var recv, lost uint64
	window := func(lossPct uint64, silent bool) { // the callee's next window
		if !silent {
			recv += 250 - 250*lossPct/100
			lost += 250 * lossPct / 100
		}
		w.media.setStats(t, "webrtc", 1, MediaStats{Codec: "PCMU", PacketsReceived: recv, PacketsLost: int64(lost), JitterMillis: 5})
		w.tick(qualityInterval)
	}
	alerts := func() []store.QualityAlertView {
		ev.mu.Lock()
		defer ev.mu.Unlock()
		var out []store.QualityAlertView
		for _, e := range ev.events {
			if e.Type == store.EventCallQuality {
				out = append(out, e.Data.(store.QualityAlertView))
			}
		}
		return out
	}
	steps := []struct {
		loss   uint64
		silent bool
		alerts int
	}{
		{loss: 20}, {loss: 20}, {silent: true}, // two low windows, then none rated
		{loss: 20, alerts: 1}, // the third low window: reported
		{loss: 20, alerts: 1}, // the same dip: not again
		{loss: 0, alerts: 1},  // recovered
		{loss: 20, alerts: 1}, {loss: 20, alerts: 1},
		{loss: 20, alerts: 2}, // dipped again for 15 s
	}
	for i, s := range steps {
		window(s.loss, s.silent)
		require.Len(t, alerts(), s.alerts, "step %d", i)
	}
	first := alerts()[0]
	require.Equal(t, "callee", first.Alert.Role)
	require.Equal(t, 0, first.Alert.SinceS)
	require.Equal(t, 3, first.Alert.Windows)
	require.Less(t, first.Alert.MOS, lowMOS)
	require.Equal(t, 20.0, first.Alert.LossPct)
	require.Equal(t, string(id), first.ID)
	require.Equal(t, "call", first.Object)
	require.Equal(t, 30, alerts()[1].Alert.SinceS)
	warns := logs.lines("call quality low")
	require.Len(t, warns, 2)
	require.Contains(t, warns[0], "level=WARN")
	require.Contains(t, warns[0], "role=callee")
	require.Contains(t, warns[0], "call_id="+string(id))
	require.Contains(t, warns[0], "mos=")

	// The callee's device heard its own leg's eight rated windows; the
	// caller's, clean, only its own (the sim's fixed counters: one window).
	q := b1.qualities()
	require.Len(t, q, 8)
	require.Less(t, q[0].MOS, lowMOS)
	require.Equal(t, 20.0, q[0].LossPct)
	require.Equal(t, 5.0, q[0].JitterMs)
	require.Nil(t, q[0].RTTMs)
	require.Greater(t, q[4].MOS, 4.0)
	require.Len(t, a1.qualities(), 1)
	require.Greater(t, a1.qualities()[0].MOS, 4.0)
	a1.hangup(id)
	w.noCalls()
}

// LiveQuality reads the series of a call still up from its actor; once
// the call ended it reports none (the store has it).
func TestLiveQuality(t *testing.T) {
	w := newWorld(t)
	a1, _, id := connected(t, w)
	legs, ok := w.m.LiveQuality(context.Background(), id)
	require.True(t, ok)
	require.Empty(t, legs, "no window closed yet")

	w.media.setStats(t, "webrtc", 0, MediaStats{Codec: "opus", PacketsReceived: 250, JitterMillis: 2})
	w.tick(qualityInterval)
	w.media.setStats(t, "webrtc", 0, MediaStats{Codec: "opus", PacketsReceived: 500, JitterMillis: 2})
	w.tick(qualityInterval)
	legs, ok = w.m.LiveQuality(context.Background(), id)
	require.True(t, ok)
	require.Len(t, legs, 2, "both legs (the callee's fixed sim counters: one window)")
	require.Len(t, legs[0].Samples, 2, "the caller's")
	require.Equal(t, 5, legs[0].Samples[1].OffsetS)

	_, ok = w.m.LiveQuality(context.Background(), "call_nope")
	require.False(t, ok)
	a1.hangup(id)
	w.noCalls()
	_, ok = w.m.LiveQuality(context.Background(), id)
	require.False(t, ok)
	stored, err := w.recs.GetCallQuality(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, legs, stored)
}
