package e2e

import (
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/test/harness"
	"github.com/switchboard-voice/switchboard/test/rest"
)

// A server process killed (SIGKILL) while a delivery is in flight loses
// no event: after the restart on the same data directory the receiver
// gets every event of the call, in order, the interrupted one with the
// same webhook-id.
func TestWebhooksSurviveKill(t *testing.T) {
	recv := &hookReceiver{t: t} // status 0: the first request hangs
	hs := httptest.NewServer(recv)
	t.Cleanup(hs.Close)
	bin := harness.BuildBinary(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	const extra = "webhooks:\n  allow_private: true\n  allow_http_hosts: [\"127.0.0.1\"]\n" +
		"  backoff_base: 200ms\n  backoff_max: 1s\n  poll: 100ms\n"
	p := harness.StartProcessIn(t, bin, dataDir, extra)

	r := rest.Do(t, "POST", p.URL()+"/v1/webhook_endpoints", admin,
		map[string]any{"url": hs.URL + "/hook", "events": callEvents})
	require.Equal(t, 201, r.Status, string(r.Raw))
	recv.secret.Store(r.Body["secret"].(string))

	alice, err := processPhone(t, p, "101", 440)
	require.NoError(t, err)
	bob, err := processPhone(t, p, "102", 1000)
	require.NoError(t, err)
	out, in := harness.Connected(t, alice, bob, "102")
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, in, protocol.EndHangup)
	// The record (and its call.ended, in the same transaction) is written
	// off the call's goroutine: wait for it, so the kill comes with every
	// event queued and one delivery in flight. (A record a kill leaves
	// open is closed at the restart, with its call.ended: failed.)
	harness.CheckFor(t, 10*time.Second, func() error {
		r := rest.Do(t, "GET", p.URL()+"/v1/calls/"+out.ID, admin, nil)
		if r.Status != 200 || r.Body["ended_at"] == nil {
			return fmt.Errorf("record of %s not closed yet: %d %s", out.ID, r.Status, r.Raw)
		}
		return nil
	})

	var hung string
	harness.CheckFor(t, 10*time.Second, func() error {
		recv.mu.Lock()
		defer recv.mu.Unlock()
		if len(recv.hung) == 0 {
			return fmt.Errorf("no delivery in flight yet")
		}
		hung = recv.hung[0]
		return nil
	})
	p.Kill(t)
	recv.status.Store(200)

	harness.StartProcessIn(t, bin, dataDir, extra)
	harness.CheckFor(t, 20*time.Second, func() error {
		if got := recv.types(out.ID); len(got) < len(callEvents) {
			return fmt.Errorf("events of %s so far: %v", out.ID, got)
		}
		return nil
	})
	require.Equal(t, callEvents, recv.types(out.ID))
	recv.mu.Lock()
	defer recv.mu.Unlock()
	require.Equal(t, hung, recv.got[0].ID, "the interrupted event keeps its id")
	require.Equal(t, "call.started", recv.got[0].Type)
}
