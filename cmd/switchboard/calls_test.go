package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/test/harness"
	"github.com/switchboard-voice/switchboard/test/syncbuf"
)

func TestClock(t *testing.T) {
	for s, want := range map[int]string{0: "0:00", 59: "0:59", 61: "1:01", 3600: "1:00:00", 3725: "1:02:05"} {
		require.Equal(t, want, clock(&s))
	}
	require.Equal(t, "-", clock(nil))
}

func TestPrintLiveCalls(t *testing.T) {
	d := 75
	c := liveCall{ID: "call_1", State: "active", From: "101", To: "102", DurationS: &d, Node: "n1"}
	c.Legs = make([]liveLeg, 2)
	c.Legs[0].Kind, c.Legs[0].Codec = "webrtc", "opus"
	c.Legs[0].Quality = &struct {
		MOS float64 `json:"mos"`
	}{4.412}
	c.Legs[1].Kind = "sip"
	ringing := liveCall{ID: "call_2", State: "ringing", Transferring: true, From: "+12125550100"}
	var out bytes.Buffer
	printLiveCalls(&out, []liveCall{c, ringing}, time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Equal(t, "2 live call(s) on node n1 at 03:04:05", lines[0])
	require.Regexp(t, `^ID\s+STATE\s+FROM → TO\s+DURATION\s+LEGS/CODEC\s+MOS$`, lines[2])
	require.Regexp(t, `^call_1\s+active\s+101 → 102\s+1:15\s+webrtc/opus sip/-\s+4\.41 -$`, lines[3])
	require.Regexp(t, `^call_2\s+transferring\s+\+12125550100 → -\s+-\s+-\s+-$`, lines[4])
}

func TestCallsFlags(t *testing.T) {
	t.Setenv("SWITCHBOARD_ADMIN_KEY", "")
	var stderr bytes.Buffer
	require.Equal(t, 1, run(context.Background(), []string{"calls", "--once"}, &bytes.Buffer{}, &stderr))
	require.Contains(t, stderr.String(), "no admin key")
	stderr.Reset()
	require.Equal(t, 1, run(context.Background(), []string{"calls", "--once", "--key", "k", "--interval", "1ms"}, &bytes.Buffer{}, &stderr))
	require.Contains(t, stderr.String(), "--interval")
}

// Against a real server: a connected call is listed with both legs, once
// and while watching; a wrong key is an error that says so.
func TestCallsAgainstServer(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, audio.Opus)
	bob := s.Phone(t, s.Bob, 1000, audio.PCMU)
	out, _ := harness.Connected(t, alice, bob, "102")

	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"calls", "-once", "--url", s.URL(), "--key", harness.AdminKey}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	t.Log("\n" + stdout.String())
	require.Contains(t, stdout.String(), "1 live call(s)")
	require.Regexp(t, out.ID+`\s+active\s+101 → 102\s+0:\d\d\s+webrtc/opus webrtc/pcmu\s`, stdout.String())

	stderr.Reset()
	code = run(context.Background(), []string{"calls", "-once", "--url", s.URL(), "--key", "wrong"}, &bytes.Buffer{}, &stderr)
	require.Equal(t, 1, code)
	require.Contains(t, stderr.String(), "401")

	t.Setenv("SWITCHBOARD_ADMIN_KEY", harness.AdminKey)
	var watched syncbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"calls", "--url", s.URL(), "--interval", "200ms"}, &watched, &stderr)
	}()
	harness.CheckFor(t, 5*time.Second, func() error {
		if strings.Count(watched.String(), "\x1b[2J") < 2 {
			return errString("fewer than two redraws")
		}
		return nil
	})
	cancel()
	require.Equal(t, 0, <-done)
	require.Contains(t, watched.String(), out.ID)
}

type errString string

func (e errString) Error() string { return string(e) }
