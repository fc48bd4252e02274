package sqldb_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

func TestCallQualityRoundTrip(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		db := e.open(t)
		at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		sum := &store.QualitySummary{AvgMOS: 4.2, MinMOS: 3.9, Worst: store.QualityWindow{OffsetS: 5, MOS: 3.9}, Samples: 2}
		r := &store.CallRecord{AccountID: "acct_q", Direction: "internal", StartedAt: at,
			Legs: []store.LegStats{{LegID: "leg_a", Role: "caller", Kind: "webrtc", Codec: "opus", Quality: sum}}}
		require.NoError(t, db.CreateCallRecord(ctx, r))

		got, err := db.GetCallQuality(ctx, r.ID)
		require.NoError(t, err)
		require.Empty(t, got, "nothing stored yet")
		require.NotNil(t, got)

		rtt := 12.5
		legs := []store.LegQuality{{LegID: "leg_a", Samples: []store.QualitySample{
			{At: at.Add(5 * time.Second), OffsetS: 0, MOS: 4.41, LossPct: 0, JitterMs: 1},
			{At: at.Add(10 * time.Second), OffsetS: 5, MOS: 3.9, LossPct: 4, JitterMs: 8, RTTMs: &rtt},
		}}}
		require.NoError(t, db.SaveCallQuality(ctx, r.ID, legs))
		got, err = db.GetCallQuality(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, legs, got)

		rec, err := db.GetCallRecord(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, sum, rec.Legs[0].Quality, "the summary rides in the legs")

		_, err = db.GetCallQuality(ctx, ident.CallID("call_missing"))
		require.True(t, errors.Is(err, store.ErrNotFound), "got %v", err)
		err = db.SaveCallQuality(ctx, ident.CallID("call_missing"), legs)
		require.True(t, errors.Is(err, store.ErrNotFound), "got %v", err)
	})
}
