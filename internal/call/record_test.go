package call

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

func TestRecorder(t *testing.T) {
	recs := &memRecords{recs: map[ident.CallID]store.CallRecord{}}
	var r recorder
	r.started(context.Background(), recs, slog.New(slog.NewTextHandler(io.Discard, nil)),
		store.CallRecord{ID: "call_1", Direction: "internal", To: "+12125550100"})
	saved := func() store.CallRecord {
		rec, err := recs.GetCallRecord(context.Background(), "call_1")
		require.NoError(t, err)
		return *rec
	}
	require.Equal(t, 1, recs.n)

	r.routed("user_b", false)
	r.routed("user_c", true) // the first user stays; a trunk makes it outbound
	require.Equal(t, ident.UserID("user_b"), r.record().ToUserID)
	require.Equal(t, "outbound", r.record().Direction)
	require.Equal(t, 1, recs.n, "routing is saved with the next event")

	at := time.Unix(1000, 0).UTC()
	r.answered(at, "sess_b")
	require.Equal(t, "sess_b", saved().AnsweredBy)
	require.Equal(t, "user_b", string(saved().ToUserID))

	r.transferred("blind transfer by a of b to 104")
	r.noted("; answered by d")
	r.checkpointed([]store.LegStats{{LegID: "leg_1"}})
	require.Equal(t, 2, recs.n)
	r.ended(EndHangup, []store.LegStats{{LegID: "leg_1", EndReason: "hangup"}})
	rec := saved()
	require.Equal(t, "blind transfer by a of b to 104; answered by d", rec.Transfer)
	require.Equal(t, "hangup", rec.EndReason)
	require.NotNil(t, rec.EndedAt)
	require.Equal(t, []store.LegStats{{LegID: "leg_1", EndReason: "hangup"}}, rec.Legs)

	var j recorder
	j.started(context.Background(), recs, slog.New(slog.NewTextHandler(io.Discard, nil)), store.CallRecord{ID: "call_2"})
	j.joinedInto("joined", []store.LegStats{{LegID: "leg_t", EndReason: "transferred"}, {LegID: "leg_d"}}, "leg_d")
	rec2, _ := recs.GetCallRecord(context.Background(), "call_2")
	require.Equal(t, "transferred", rec2.EndReason)
	require.Equal(t, "joined", rec2.Transfer)
	require.Equal(t, []string{"transferred", "joined"}, []string{rec2.Legs[0].EndReason, rec2.Legs[1].EndReason})
}

// TestOneRecordWriter keeps record.go the only writer of the call record.
func TestOneRecordWriter(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	for _, f := range files {
		if f == "record.go" || strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NotContains(t, string(src), ".cur", "%s reaches into the record; add an event to recorder", f)
		require.NotContains(t, string(src), "UpdateCallRecord", "%s writes the record", f)
		require.NotContains(t, string(src), "CreateCallRecord", "%s writes the record", f)
	}
}
