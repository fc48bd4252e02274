package e2e

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/test/harness"
	"github.com/switchboard-voice/switchboard/test/rest"
)

// checkpointInterval is internal/call's: how often a live call's record is
// refreshed.
const checkpointInterval = 5 * time.Second

// TestKilledServerClosesRecordsAtLastMedia kills a real server process
// (SIGKILL) with a call up and audio flowing, waits, and starts a new one
// on the same data directory: the call's record is closed `failed` at the
// last time media was seen (a few seconds before the kill, not at the
// restart), and keeps its legs' checkpointed packet counts.
func TestKilledServerClosesRecordsAtLastMedia(t *testing.T) {
	bin := harness.BuildBinary(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	p := harness.StartProcessIn(t, bin, dataDir, "")
	alice, err := processPhone(t, p, "101", 440)
	require.NoError(t, err)
	bob, err := processPhone(t, p, "102", 1000)
	require.NoError(t, err)
	out, in := harness.Connected(t, alice, bob, "102")
	harness.HearsTone(t, in, 440)
	harness.HearsTone(t, out, 1000)

	time.Sleep(3*checkpointInterval + time.Second) // media flows; checkpoints happen
	killed := time.Now()
	p.Kill(t)
	time.Sleep(8 * time.Second) // so a record closed at the restart would show

	p2 := harness.StartProcessIn(t, bin, dataDir, "")
	var calls struct {
		Data []struct {
			ID        string           `json:"id"`
			StartedAt time.Time        `json:"started_at"`
			EndedAt   *time.Time       `json:"ended_at"`
			EndReason string           `json:"end_reason"`
			Legs      []store.LegStats `json:"legs"`
		} `json:"data"`
	}
	p2.Get(t, "/v1/calls", &calls)
	require.Len(t, calls.Data, 1)
	rec := calls.Data[0]
	require.Equal(t, string(out.ID), rec.ID)
	require.Equal(t, "failed", rec.EndReason)
	require.NotNil(t, rec.EndedAt)
	// The last checkpoint before the kill saw media; allow one more
	// interval for a kill that lands while that checkpoint is written,
	// and a second for the API's whole-second times.
	require.WithinRange(t, *rec.EndedAt, killed.Add(-2*checkpointInterval-time.Second), killed.Add(time.Second),
		"ended_at %s, killed at %s", rec.EndedAt, killed)
	t.Logf("started %s, killed %s, ended_at %s", rec.StartedAt, killed.UTC().Format(time.RFC3339Nano), rec.EndedAt)
	require.Len(t, rec.Legs, 2)
	for _, l := range rec.Legs {
		// At least one interval of audio (50 packets a second) was counted.
		require.Greater(t, l.PacketsReceived, uint64(250), "leg %s (%s)", l.LegID, l.Role)
		require.Greater(t, l.PacketsSent, uint64(250), "leg %s (%s)", l.LegID, l.Role)
	}
	require.Contains(t, p2.Output(), "closed call records left open by an earlier run")

	// The events stream (and webhooks) hear how the call ended, too.
	st := rest.OpenSSE(t, p2.URL()+"/v1/events?types=call.ended", harness.AdminKey, "evt_0") // unknown: replay all
	require.Equal(t, 200, st.Status)
	defer st.Close()
	ev := st.Next(t, 10*time.Second)
	require.Equal(t, "call.ended", ev.Event)
	require.Contains(t, ev.Data, `"id":"`+string(out.ID)+`"`)
	require.Contains(t, ev.Data, `"end_reason":"failed"`)
}
