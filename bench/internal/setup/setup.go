// Package setup holds what the call benchmarks share: the server
// configuration that lifts the limits meant for people, and placing many
// calls at once.
package setup

import (
	"fmt"
	"os"
	"sync"
	"time"
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
