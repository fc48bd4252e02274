package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// processPhone connects a softphone for extension ext to a server process.
func processPhone(t *testing.T, p *harness.Process, ext string, freq float64) (*softphone.Phone, error) {
	t.Helper()
	return processPhoneWith(t, p, ext, freq)
}

// processPhoneWith is processPhone asking for the optional frames features.
func processPhoneWith(t *testing.T, p *harness.Process, ext string, freq float64, features ...string) (*softphone.Phone, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ph, err := softphone.Connect(ctx, softphone.Config{URL: p.WebSocketURL(), Token: p.Token(t, ext),
		Source: audio.NewTone(freq, softphone.SourceRate, 0.3), Features: features})
	if err == nil {
		t.Cleanup(func() { _ = ph.Close() })
	}
	return ph, err
}

// endedWith waits for c's call.ended with reason. The server closes the
// socket (going_away) right after it, so the call's end reason is read
// rather than waited for on the socket.
func endedWith(t *testing.T, c *softphone.Call, reason protocol.EndReason) {
	t.Helper()
	harness.CheckFor(t, 10*time.Second, func() error {
		if got, ended := c.EndReason(); !ended || got != reason {
			return fmt.Errorf("call %s: ended %v, reason %q", c.ID, ended, got)
		}
		return nil
	})
}

// draining checks that path answers 503 "draining".
func draining(p *harness.Process, path string) error {
	res, err := http.Get(p.URL() + path)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 512)
	n, _ := res.Body.Read(buf)
	b.Write(buf[:n])
	if res.StatusCode != 503 || !strings.Contains(b.String(), `"draining"`) {
		return fmt.Errorf("%s: %d %s", path, res.StatusCode, b.String())
	}
	return nil
}

// TestDrainLetsLiveCallsFinish restarts a real server process the way an
// upgrade does: SIGTERM with a call up. The call goes on with audio, new
// calls and new sessions are refused with a clear error, health says
// draining, and the process exits (0) once the last call has ended.
func TestDrainLetsLiveCallsFinish(t *testing.T) {
	p := harness.StartProcess(t, harness.BuildBinary(t), "")
	alice, err := processPhone(t, p, "101", 440)
	require.NoError(t, err)
	bob, err := processPhone(t, p, "102", 1000)
	require.NoError(t, err)
	carol, err := processPhone(t, p, "103", 700)
	require.NoError(t, err)
	out, in := harness.Connected(t, alice, bob, "102")
	harness.HearsTone(t, in, 440)

	p.Signal(t)
	harness.CheckFor(t, 5*time.Second, func() error { return draining(p, "/healthz") })
	require.NoError(t, draining(p, "/readyz"))

	// carol's socket is up, but her new call is refused, saying why.
	_, err = carol.Call(harness.Ctx(t, 10*time.Second), "101")
	var se *softphone.ServerError
	require.ErrorAs(t, err, &se)
	require.Equal(t, protocol.CodeCallFailed, se.Code)
	require.Contains(t, se.Message, "shutting down")
	// A new session is refused: the client goes to another server.
	_, err = processPhone(t, p, "103", 700)
	require.ErrorAs(t, err, &se)
	require.Equal(t, protocol.CodeGoingAway, se.Code)

	// The live call goes on, with audio both ways.
	for range 2 {
		in.Detector().Reset()
		out.Detector().Reset()
		harness.HearsTone(t, in, 440)
		harness.HearsTone(t, out, 1000)
	}
	require.True(t, p.Running())

	require.NoError(t, out.Hangup())
	endedWith(t, in, protocol.EndHangup)
	require.NoError(t, p.WaitExit(t, 15*time.Second), "exit status 0 after the last call")
	require.Contains(t, p.Output(), "drained")
}

// TestDrainEndsCallsWithServerShutdown: a second SIGTERM, or the drain
// deadline, ends the calls still up with reason server-shutdown (never a
// misleading hangup), and the process exits 0.
func TestDrainEndsCallsWithServerShutdown(t *testing.T) {
	bin := harness.BuildBinary(t)
	for _, tc := range []struct {
		name, config string
		signals      int
	}{
		{"second signal", "", 2},
		{"deadline", "shutdown:\n  drain_timeout: 2s\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := harness.StartProcess(t, bin, tc.config)
			alice, err := processPhone(t, p, "101", 440)
			require.NoError(t, err)
			bob, err := processPhone(t, p, "102", 1000)
			require.NoError(t, err)
			out, in := harness.Connected(t, alice, bob, "102")
			harness.HearsTone(t, in, 440)

			p.Signal(t)
			harness.CheckFor(t, 5*time.Second, func() error { return draining(p, "/healthz") })
			if tc.signals == 2 {
				p.Signal(t)
			}
			endedWith(t, out, protocol.EndServerShutdown)
			endedWith(t, in, protocol.EndServerShutdown)
			err = p.WaitExit(t, 15*time.Second)
			var exit interface{ ExitCode() int }
			if errors.As(err, &exit) {
				t.Fatalf("exit status %d:\n%s", exit.ExitCode(), p.Output())
			}
			require.NoError(t, err)
		})
	}
}
