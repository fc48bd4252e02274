package sqldb_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// An account without a policy has the default; a stored one replaces it.
func TestRecordingPolicy(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		db := e.open(t)
		acct := newAccount(t, db, "rec")
		p, err := db.GetRecordingPolicy(ctx, acct.ID)
		require.NoError(t, err)
		require.Equal(t, store.DefaultRecordingPolicy(acct.ID), p)
		in := &store.RecordingPolicy{AccountID: acct.ID, Mode: store.RecordingAlways, Beep: false,
			Announcement: "legal.wav", RetentionDays: 7}
		require.NoError(t, db.PutRecordingPolicy(ctx, in))
		got, err := db.GetRecordingPolicy(ctx, acct.ID)
		require.NoError(t, err)
		require.Equal(t, store.RecordingAlways, got.Mode)
		require.False(t, got.Beep)
		require.Equal(t, "legal.wav", got.Announcement)
		require.Equal(t, 7, got.RetentionDays)
		require.False(t, got.UpdatedAt.IsZero())
		in.Beep, in.Mode = true, store.RecordingNever
		require.NoError(t, db.PutRecordingPolicy(ctx, in))
		got, err = db.GetRecordingPolicy(ctx, acct.ID)
		require.NoError(t, err)
		require.True(t, got.Beep)
		require.Equal(t, store.RecordingNever, got.Mode)
		err = db.PutRecordingPolicy(ctx, &store.RecordingPolicy{AccountID: "acct_none", Mode: store.RecordingNever})
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

// Recordings are listed per call, updated when they finish, and expire
// by their account's retention.
func TestRecordings(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		db := e.open(t)
		short := newAccount(t, db, "short")
		dflt := newAccount(t, db, "default")
		require.NoError(t, db.PutRecordingPolicy(ctx, &store.RecordingPolicy{AccountID: short.ID,
			Mode: store.RecordingOnDemand, RetentionDays: 1}))
		now := time.Now().UTC().Truncate(time.Millisecond)
		mk := func(acct ident.AccountID, call ident.CallID, age time.Duration) *store.Recording {
			r := &store.Recording{CallID: call, AccountID: acct, StorageKey: "k/" + string(call), SampleRate: 8000,
				Channels: 2, StartedAt: now.Add(-age)}
			require.NoError(t, db.CreateRecording(ctx, r))
			return r
		}
		old := mk(short.ID, "call_a", 48*time.Hour)
		fresh := mk(short.ID, "call_a", time.Hour)
		dfltOld := mk(dflt.ID, "call_b", 30*24*time.Hour)
		dfltExpired := mk(dflt.ID, "call_b", 100*24*time.Hour)

		open, err := db.OpenRecordings(ctx, "")
		require.NoError(t, err)
		require.Len(t, open, 4)
		expired, err := db.ExpiredRecordings(ctx, now, 10, "")
		require.NoError(t, err)
		require.Empty(t, expired, "recordings still open never expire")

		for _, r := range []*store.Recording{old, fresh, dfltOld, dfltExpired} {
			end := r.StartedAt.Add(90 * time.Second)
			r.EndedAt, r.Status, r.DurationMS, r.SizeBytes = &end, store.RecordingFinished, 90000, 1440044
			r.Paused = []store.PausedSpan{{StartMS: 1000, EndMS: 2500}}
			require.NoError(t, db.UpdateRecording(ctx, r))
		}
		list, err := db.ListCallRecordings(ctx, "call_a")
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, old.ID, list[0].ID)
		require.Equal(t, []store.PausedSpan{{StartMS: 1000, EndMS: 2500}}, list[0].Paused)
		require.Equal(t, int64(1440044), list[0].SizeBytes)
		require.Equal(t, store.RecordingFinished, list[0].Status)
		require.NotNil(t, list[0].EndedAt)
		require.True(t, list[0].StartedAt.Equal(old.StartedAt))

		expired, err = db.ExpiredRecordings(ctx, now, 10, "")
		require.NoError(t, err)
		ids := []ident.RecordingID{}
		for _, r := range expired {
			ids = append(ids, r.ID)
		}
		require.Equal(t, []ident.RecordingID{dfltExpired.ID, old.ID}, ids)
		// A cluster node takes only its own calls' recordings.
		n1 := mk(short.ID, "call_n1-aaaaaaaaaaaaaaaa", 72*time.Hour)
		mk(short.ID, "call_n2-bbbbbbbbbbbbbbbb", 72*time.Hour)
		open, err = db.OpenRecordings(ctx, "call_n1-")
		require.NoError(t, err)
		require.Len(t, open, 1)
		require.Equal(t, n1.ID, open[0].ID)
		end := n1.StartedAt.Add(time.Minute)
		n1.EndedAt, n1.Status = &end, store.RecordingFinished
		require.NoError(t, db.UpdateRecording(ctx, n1))
		expired, err = db.ExpiredRecordings(ctx, now, 10, "call_n1-")
		require.NoError(t, err)
		require.Len(t, expired, 1)
		require.Equal(t, n1.ID, expired[0].ID)

		require.NoError(t, db.DeleteRecording(ctx, old.ID))
		_, err = db.GetRecording(ctx, old.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, db.DeleteRecording(ctx, old.ID), store.ErrNotFound)
		got, err := db.GetRecording(ctx, fresh.ID)
		require.NoError(t, err)
		require.Equal(t, "k/call_a", got.StorageKey)
	})
}
