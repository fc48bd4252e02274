// Package leakcheck fails a test binary, or a test, that leaves goroutines
// running. It is goleak with a longer patience: goleak looks again for
// about half a second, which a goroutine on its way out (a closed peer
// connection's read loop, a stopped server's handler) can take on a busy
// machine. leakcheck looks again for up to Settle, so only a goroutine
// that never ends is reported.
package leakcheck

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Options are goleak's Ignore* options; goleak.Cleanup is not one (a
// TestMain cleans up after Run returns).

// Settle is how long goroutines are given to end.
const Settle = 10 * time.Second

// Run runs the package's tests and, if they passed, checks that no
// goroutine outlives them; it returns the exit code, so a TestMain can
// clean up before os.Exit(leakcheck.Run(m)).
func Run(m *testing.M, opts ...goleak.Option) int {
	code := m.Run()
	if code != 0 {
		return code
	}
	if err := find(Settle, opts); err != nil {
		fmt.Fprintf(os.Stderr, "leakcheck: goroutines still running after the tests passed: %v\n", err)
		return 1
	}
	return 0
}

// Main is Run for a TestMain that has nothing to clean up.
func Main(m *testing.M, opts ...goleak.Option) { os.Exit(Run(m, opts...)) }

// None fails t if goroutines other than those opts ignore still run after
// Settle.
func None(t testing.TB, opts ...goleak.Option) {
	t.Helper()
	if err := find(Settle, opts); err != nil {
		t.Error(err)
	}
}

// find looks for leaked goroutines until none is left or wait has passed.
func find(wait time.Duration, opts []goleak.Option) error {
	deadline := time.Now().Add(wait)
	for {
		err := goleak.Find(opts...)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
