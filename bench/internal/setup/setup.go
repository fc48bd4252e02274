// Package setup holds what the call benchmarks share: the server
// configuration that lifts the limits meant for people, waiting for a
// server to be healthy, and placing calls (many at once).
package setup

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/softphone"
)

// Config lifts the limits meant for people (calls a second per user,
// sockets per server) so that the load is what is measured.
const Config = `media:
  include_loopback: true
signal:
  session_limit: 20000
calls:
  limits:
    socket_rate: 1000
    socket_burst: 1000
    user_rate: 100000
    user_burst: 100000
    max_per_account: 100000
http:
  max_unauthenticated_per_source: 100000
log:
  level: warn
`

// All runs each setup at once and returns the durations of those that
// succeeded and how many failed (each failure is printed to stderr).
func All[T any](calls []T, setup func(T) (time.Duration, error)) ([]time.Duration, int) {
	var mu sync.Mutex
	var took []time.Duration
	failed := 0
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := setup(c)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fmt.Fprintln(os.Stderr, "call failed:", err)
				failed++
				return
			}
			took = append(took, d)
		}()
	}
	wg.Wait()
	return took, failed
}

// Call places a call from caller to ext, answered by callee as soon as it
// rings, and returns both ends and the time from call.create to
// call.answered. The answering goroutine has finished when it returns.
func Call(caller, callee *softphone.Phone, ext string) (out, in *softphone.Call, took time.Duration, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		select {
		case in = <-callee.Incoming():
			_ = in.Answer(ctx)
		case <-ctx.Done():
		}
	}()
	start := time.Now()
	out, err = caller.Call(ctx, ext)
	if err == nil {
		_, err = out.WaitFor(ctx, protocol.TypeCallAnswered)
	}
	took = time.Since(start)
	if err != nil {
		cancel()
	}
	<-answered
	return out, in, took, err
}

// WaitHealthy polls base's /healthz every 100 ms until it answers 200, at
// most tries times.
func WaitHealthy(base string, tries int) bool {
	for range tries {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}
