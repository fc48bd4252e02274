package sqldb_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

func TestListCallRecordsQuery(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		day := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
		// ids[i] in creation order; listings are newest first.
		specs := []struct {
			from, to  ident.UserID
			direction string
			reason    string
			started   time.Time
		}{
			{"user_a", "user_b", "internal", "hangup", day},
			{"user_b", "", "outbound", "busy", day.Add(time.Hour + 500*time.Millisecond)},
			{"", "user_a", "inbound", "no-answer", day.Add(2 * time.Hour)},
			{"user_c", "user_b", "internal", "hangup", day.Add(24 * time.Hour)},
		}
		var ids []ident.CallID
		for _, s := range specs {
			r := sampleCall("acct_a", s.from, s.to)
			r.Direction, r.StartedAt = s.direction, s.started
			require.NoError(t, db.CreateCallRecord(ctx, r))
			r.EndReason = s.reason
			ended := s.started.Add(time.Minute)
			r.EndedAt = &ended
			require.NoError(t, db.UpdateCallRecord(ctx, r))
			ids = append(ids, r.ID)
		}
		tests := []struct {
			name string
			q    store.CallQuery
			opt  store.ListOptions
			want []ident.CallID
			more bool
		}{
			{"party", store.CallQuery{Party: "user_a"}, store.ListOptions{}, []ident.CallID{ids[2], ids[0]}, false},
			{"direction", store.CallQuery{Direction: "internal"}, store.ListOptions{}, []ident.CallID{ids[3], ids[0]}, false},
			{"reason", store.CallQuery{EndReason: "busy"}, store.ListOptions{}, []ident.CallID{ids[1]}, false},
			{"from inclusive", store.CallQuery{From: day.Add(time.Hour)}, store.ListOptions{}, []ident.CallID{ids[3], ids[2], ids[1]}, false},
			{"to exclusive", store.CallQuery{To: day.Add(2 * time.Hour)}, store.ListOptions{}, []ident.CallID{ids[1], ids[0]}, false},
			{"one day", store.CallQuery{From: day, To: day.Add(24 * time.Hour)}, store.ListOptions{}, []ident.CallID{ids[2], ids[1], ids[0]}, false},
			{"other zone", store.CallQuery{From: day.Add(2 * time.Hour).In(time.FixedZone("X", -5*3600))}, store.ListOptions{},
				[]ident.CallID{ids[3], ids[2]}, false},
			{"combined", store.CallQuery{Party: "user_b", Direction: "internal", EndReason: "hangup"}, store.ListOptions{},
				[]ident.CallID{ids[3], ids[0]}, false},
			{"paged", store.CallQuery{Party: "user_b"}, store.ListOptions{Limit: 1, StartingAfter: string(ids[3])},
				[]ident.CallID{ids[1]}, true},
			{"none", store.CallQuery{Direction: "inbound", EndReason: "hangup"}, store.ListOptions{}, []ident.CallID{}, false},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, more, err := db.ListCallRecords(ctx, store.CallFilter{AccountID: "acct_a", CallQuery: tc.q, ListOptions: tc.opt})
				require.NoError(t, err)
				require.Equal(t, tc.more, more)
				gotIDs := []ident.CallID{}
				for _, r := range got {
					gotIDs = append(gotIDs, r.ID)
				}
				require.Equal(t, tc.want, gotIDs)
			})
		}
	})
}
