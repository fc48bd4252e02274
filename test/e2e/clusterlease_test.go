package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/store/pgtest"
	"github.com/switchboard-voice/switchboard/test/harness"
	"github.com/switchboard-voice/switchboard/test/rest"
)

type callRecordJSON struct {
	ID        string     `json:"id"`
	From      string     `json:"from"`
	To        string     `json:"to"`
	NodeID    string     `json:"node_id"`
	EndedAt   *time.Time `json:"ended_at"`
	EndReason string     `json:"end_reason"`
}

func callRecords(t *testing.T, p *harness.Process) map[string]callRecordJSON {
	t.Helper()
	var res struct {
		Data []callRecordJSON `json:"data"`
	}
	p.Get(t, "/v1/calls", &res)
	out := map[string]callRecordJSON{}
	for _, r := range res.Data {
		out[r.ID] = r
	}
	return out
}

// registeredBy counts the REGISTERs the registrar took from each contact.
func registeredBy(msgs string) map[string]int {
	out := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^Contact: <sip:switchboard@([^>;]+)>`).FindAllStringSubmatch(msgs, -1) {
		out[m[1]]++
	}
	return out
}

// TestClusterTrunkLeaseAndDeadNodeRecords runs two nodes on one NATS and
// one shared PostgreSQL with a trunk that registers (sipp as the
// registrar): only the node holding the trunk's lease registers; killed
// (-9), the other takes over after the TTL. A call left open by a killed
// node is closed `failed` by the surviving node after the TTL, while the
// survivor's own call stays open.
func TestClusterTrunkLeaseAndDeadNodeRecords(t *testing.T) {
	dsn := pgtest.DSN(t)
	ns := harness.StartNATS(t)
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uas_register_loop.xml", Timeout: 3 * time.Minute,
		Args: []string{"-m", "100"}})
	bin := harness.BuildBinary(t)
	keyFile := filepath.Join(t.TempDir(), "master.key") // shared: the store is
	conf := func(id string) string {
		return fmt.Sprintf("store:\n  driver: postgres\n  dsn: %q\nmaster_key_file: %s\n"+
			"cluster:\n  nats_url: %s\n  node_id: %s\n  heartbeat: %s\n"+
			"trunks:\n  - name: carrier\n    host: %s\n    port: %d\n    username: trunkuser\n    password: trunkpass\n    register: true\n",
			dsn, keyFile, ns.URL, id, clusterHeartbeat, sipp.IP, sipp.Port)
	}
	dir1, dir2 := filepath.Join(t.TempDir(), "data"), filepath.Join(t.TempDir(), "data")
	n1 := harness.StartProcessIn(t, bin, dir1, conf("n1"))
	n1.Token(t, "103") // the demo users exist before the second node seeds
	n2 := harness.StartProcessIn(t, bin, dir2, conf("n2"))
	sipOf := func(p *harness.Process) string {
		for _, n := range nodesOn(t, p) {
			if n.Self {
				return n.SIP
			}
		}
		t.Fatal("no self in the node list")
		return ""
	}
	sip1, sip2 := sipOf(n1), sipOf(n2)

	// n1 came first: it registers; n2 stands by, through several refreshes.
	harness.CheckFor(t, 5*time.Second, func() error {
		if by := registeredBy(sipp.Messages()); by[sip1] < 2 {
			return fmt.Errorf("registrations %v", by)
		}
		return nil
	})
	time.Sleep(2 * time.Second)
	by := registeredBy(sipp.Messages())
	require.Zero(t, by[sip2], "only the lease holder registers: %v", by)
	require.Contains(t, n1.Output(), "trunk registration lease taken")
	require.NotContains(t, n2.Output(), "trunk registration lease taken")

	// n1 dies: n2 registers after the lease's TTL.
	before := registeredBy(sipp.Messages())[sip1]
	killed := time.Now()
	n1.Kill(t)
	harness.CheckFor(t, 10*time.Second, func() error {
		if by := registeredBy(sipp.Messages()); by[sip2] == 0 {
			return fmt.Errorf("registrations %v", by)
		}
		return nil
	})
	takeover := time.Since(killed)
	t.Logf("trunk registration taken over %s after the holder was killed (TTL %s)", takeover, 3*clusterHeartbeat)
	require.Equal(t, before, registeredBy(sipp.Messages())[sip1], "the dead node sent nothing more")

	// n1 is back (same id): a call on each node.
	n1 = harness.StartProcessIn(t, bin, dir1, conf("n1"))
	r := rest.Do(t, "POST", n1.URL()+"/v1/users", harness.AdminKey, map[string]any{"name": "Dan", "extension": "104"})
	require.Equal(t, 201, r.Status, string(r.Raw))
	alice, err := processPhone(t, n1, "101", 440)
	require.NoError(t, err)
	bob, err := processPhone(t, n1, "102", 1000)
	require.NoError(t, err)
	carol, err := processPhone(t, n2, "103", 440)
	require.NoError(t, err)
	dan, err := processPhone(t, n2, "104", 1000)
	require.NoError(t, err)
	out1, in1 := harness.Connected(t, alice, bob, "102")
	harness.HearsTone(t, in1, 440)
	out2, in2 := harness.Connected(t, carol, dan, "104")
	harness.HearsTone(t, in2, 440)
	recs := callRecords(t, n1)
	require.Equal(t, "n1", recs[string(out1.ID)].NodeID)
	require.Equal(t, "n2", recs[string(out2.ID)].NodeID)

	killed = time.Now()
	n2.Kill(t)
	harness.CheckFor(t, 15*time.Second, func() error {
		if r := callRecords(t, n1)[string(out2.ID)]; r.EndedAt == nil {
			return fmt.Errorf("n2's record still open: %+v", r)
		}
		return nil
	})
	reaped := time.Since(killed)
	t.Logf("the dead node's call record closed %s after the kill (TTL %s)", reaped, 3*clusterHeartbeat)
	// The node's entry outlives its last heartbeat (at most one before
	// the kill) by the TTL; the reaper waits one sweep more.
	require.GreaterOrEqual(t, reaped, 2*clusterHeartbeat, "not before the TTL")
	recs = callRecords(t, n1)
	dead := recs[string(out2.ID)]
	require.Equal(t, "failed", dead.EndReason)
	require.WithinRange(t, *dead.EndedAt, killed.Add(-6*time.Second), killed.Add(time.Second),
		"closed at its last checkpoint or media, not at the reaping")
	require.Nil(t, recs[string(out1.ID)].EndedAt, "n1's own call is untouched")
	require.Contains(t, n1.Output(), "closed the call records of a dead node")

	// And n1 registers the trunk again.
	harness.CheckFor(t, 10*time.Second, func() error {
		if !strings.Contains(n1.Output(), "trunk registration lease taken") {
			return fmt.Errorf("n1 has not taken the trunk back")
		}
		return nil
	})
	require.NoError(t, out1.Hangup())
}
