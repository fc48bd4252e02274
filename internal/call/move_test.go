package call

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

// A session that moved (to another node of a cluster) takes its legs
// along: call.restored and every later frame reach it through its new
// party, none the old one, and its commands still find the call.
func TestRestoreMoved(t *testing.T) {
	w := newWorld(t)
	a1, b1, id := connected(t, w)
	moved := w.device(string(b1.id), "user_b") // the same session, reached another way
	w.m.RestoreMoved(moved)
	w.expect(moved, "restored:active")
	w.quiet(a1, b1)
	require.Equal(t, []ident.CallID{id}, w.m.MemberCalls(b1.id))

	a1.hold(id)
	w.expect(a1, "held:local")
	w.expect(moved, "held:remote")
	a1.resume(id)
	w.expect(a1, "resumed")
	w.expect(moved, "resumed")
	moved.hangup(id)
	w.expect(a1, "ended:hangup")
	w.expect(moved, "ended:hangup")
	w.quiet(b1)
	w.noCalls()
	require.Empty(t, w.m.MemberCalls(b1.id))
}

// Rehome moves the legs like RestoreMoved but tells the device nothing (it
// resumed without session_id and gets the frames it missed instead).
func TestRehome(t *testing.T) {
	w := newWorld(t)
	a1, b1, id := connected(t, w)
	moved := w.device(string(b1.id), "user_b")
	w.m.Rehome(moved)
	w.quiet(a1, b1, moved)

	a1.hold(id)
	w.expect(a1, "held:local")
	w.expect(moved, "held:remote")
	w.quiet(b1)
	moved.hangup(id)
	w.expect(a1, "ended:hangup")
	w.expect(moved, "ended:hangup")
	w.quiet(b1)
	w.noCalls()
}
