package e2e

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// audioOffer is a real WebRTC audio offer, as a script would copy from a
// browser and send over and over.
func audioOffer(t *testing.T) string {
	t.Helper()
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	defer pc.Close()
	_, err = pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio)
	require.NoError(t, err)
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	gathered := webrtc.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(offer))
	<-gathered
	return pc.LocalDescription().SDP
}

// usage is what the server process holds.
type usage struct {
	goroutines, fds int
	heap, rss       uint64 // bytes
}

func (u usage) String() string {
	return fmt.Sprintf("%d goroutines, %d fds, heap %.1f MB, RSS %.1f MB",
		u.goroutines, u.fds, float64(u.heap)/1e6, float64(u.rss)/1e6)
}

func measure(t *testing.T) usage {
	t.Helper()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	u := usage{goroutines: runtime.NumGoroutine(), fds: len(fds), heap: ms.HeapInuse}
	if statm, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(statm)); len(f) > 1 {
			pages, _ := strconv.ParseUint(f[1], 10, 64)
			u.rss = pages * uint64(os.Getpagesize())
		}
	}
	return u
}

// flood sends n call.create frames as fast as the socket takes them while
// reading every answer, and returns the calls started and the
// rate_limited errors by context.limit. It fails on any other error.
func flood(t *testing.T, w *harness.WS, n int, sdp string) (calls []string, limited map[string]int) {
	t.Helper()
	sent := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for i := range n {
			frame := fmt.Sprintf(`{"type":"call.create","req_id":"f%d","destination":"102","sdp":%q}`, i, sdp)
			if err := w.Conn.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	limited = map[string]int{}
	answered := map[string]bool{}
	for len(answered) < n {
		m, err := w.ReadTimeout(10 * time.Second)
		require.NoError(t, err, "after %d answers", len(answered))
		switch m := m.(type) {
		case *protocol.CallTrying:
			require.False(t, answered[m.ReqID], "two answers to %s", m.ReqID)
			answered[m.ReqID] = true
			calls = append(calls, m.CallID)
		case *protocol.Error:
			require.Equal(t, protocol.CodeRateLimited, m.Code, "%s: %s", m.Code, m.Message)
			require.False(t, m.Fatal)
			require.Empty(t, m.CallID)
			require.False(t, answered[m.ReqID], "two answers to %s", m.ReqID)
			answered[m.ReqID] = true
			limited[m.Context["limit"].(string)]++
		}
	}
	require.NoError(t, <-sent)
	return calls, limited
}

// requireOpen checks the socket still answers.
func requireOpen(t *testing.T, w *harness.WS) {
	t.Helper()
	w.Send(map[string]any{"type": "ping", "req_id": "alive"})
	for {
		m := w.Read()
		if p, ok := m.(*protocol.Pong); ok {
			require.Equal(t, "alive", p.ReqID)
			return
		}
		if e, ok := m.(*protocol.Error); ok {
			require.False(t, e.Fatal, "socket closed with %s", e.Code)
		}
	}
}

// TestCallCreateFlood sends 1,000 call.create on one socket: the socket's
// burst is taken, every other frame is answered rate_limited (req_id
// echoed, context.limit "socket"), the socket stays open (no
// slow_consumer), a second socket of the same user gets what is left of
// the user's burst, and once the calls end the server is back to its
// goroutines, files and heap from before.
func TestCallCreateFlood(t *testing.T) {
	const socketBurst, userBurst = 10, 15
	s := harness.Start(t, func(c *config.Config) {
		// Rates low enough that no token comes back during the test.
		c.Calls.Limits = config.CallLimits{SocketRate: 0.001, SocketBurst: socketBurst,
			UserRate: 0.001, UserBurst: userBurst, MaxPerAccount: 1000}
	})
	sdp := audioOffer(t)
	tok := s.Token(t, s.Alice, time.Hour)
	bob, _ := s.Connect(t, s.Token(t, s.Bob, time.Hour)) // rung, never answers
	go func() {
		for { // keep reading so that Bob's socket is no slow consumer
			if _, err := bob.ReadTimeout(time.Minute); err != nil && err != harness.ErrNoFrame {
				return
			}
		}
	}()
	w, _ := s.Connect(t, tok)
	before := measure(t)

	start := time.Now()
	calls, limited := flood(t, w, 1000, sdp)
	took := time.Since(start)
	during := measure(t)
	t.Logf("flood of 1000 in %v: %d calls, %v; before: %v; with the calls up: %v", took, len(calls), limited, before, during)
	require.Len(t, calls, socketBurst)
	require.Equal(t, map[string]int{"socket": 1000 - socketBurst}, limited)
	requireOpen(t, w)
	require.Equal(t, socketBurst, s.Calls.Count())

	// A second socket of the same user: the user's bucket has 5 left.
	w2, _ := s.Connect(t, tok)
	calls2, limited2 := flood(t, w2, 100, sdp)
	require.Len(t, calls2, userBurst-socketBurst)
	require.Equal(t, map[string]int{"user": 100 - (userBurst - socketBurst)}, limited2)
	requireOpen(t, w2)

	for _, id := range calls {
		w.Send(map[string]any{"type": "call.hangup", "call_id": id})
	}
	for _, id := range calls2 {
		w2.Send(map[string]any{"type": "call.hangup", "call_id": id})
	}
	harness.CheckFor(t, 20*time.Second, func() error {
		if n := s.Calls.Count(); n > 0 {
			return fmt.Errorf("%d calls still up", n)
		}
		return nil
	})
	var after usage
	harness.CheckFor(t, 30*time.Second, func() error {
		after = measure(t)
		switch {
		case after.goroutines > before.goroutines+5:
			return fmt.Errorf("goroutines: %d before, %d now", before.goroutines, after.goroutines)
		case after.fds > before.fds+15: // the store's idle connections, the second socket
			return fmt.Errorf("fds: %d before, %d now", before.fds, after.fds)
		case after.heap > before.heap+16<<20:
			return fmt.Errorf("heap: %d before, %d now", before.heap, after.heap)
		}
		return nil
	})
	t.Logf("after the calls ended: %v", after)
	requireOpen(t, w)
}

// TestAccountCallCap refuses a call.create beyond the account's calls up
// at once with rate_limited (context.limit "account"), and takes one again
// once a call ends.
func TestAccountCallCap(t *testing.T) {
	s := harness.Start(t, func(c *config.Config) { c.Calls.Limits.MaxPerAccount = 2 })
	sdp := audioOffer(t)
	bob, _ := s.Connect(t, s.Token(t, s.Bob, time.Hour))
	_ = bob
	alice, _ := s.Connect(t, s.Token(t, s.Alice, time.Hour))
	carol, _ := s.Connect(t, s.Token(t, s.Carol, time.Hour))
	create := func(w *harness.WS, req string) protocol.Message {
		w.Send(map[string]any{"type": "call.create", "req_id": req, "destination": "102", "sdp": sdp})
		for {
			switch m := w.Read().(type) {
			case *protocol.CallTrying, *protocol.Error:
				return m
			}
		}
	}
	first := create(alice, "a1").(*protocol.CallTrying)
	create(carol, "c1")
	e, ok := create(carol, "c2").(*protocol.Error)
	require.True(t, ok)
	require.Equal(t, protocol.CodeRateLimited, e.Code)
	require.Equal(t, "c2", e.ReqID)
	require.Equal(t, "account", e.Context["limit"])
	require.EqualValues(t, 2, e.Context["max"])
	require.False(t, e.Fatal)

	alice.Send(map[string]any{"type": "call.hangup", "call_id": first.CallID})
	harness.CheckFor(t, 10*time.Second, func() error {
		if n := s.Calls.Count(); n != 1 {
			return fmt.Errorf("%d calls up", n)
		}
		return nil
	})
	_, ok = create(carol, "c3").(*protocol.CallTrying)
	require.True(t, ok, "a call ended: room for one more")
}
