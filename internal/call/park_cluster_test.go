package call

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/park"
)

// noShared is a cluster table that takes every claim.
type noShared struct{}

func (noShared) Claim(ident.AccountID, int, park.Parked) error { return nil }
func (noShared) Release(ident.AccountID, int, ident.CallID)    {}

// A call.create to a slot another node holds goes to that node
// (Options.ParkElsewhere); a slot held here or empty stays here, and
// parking skips the slots other nodes hold.
func TestPickupHandedToSlotNode(t *testing.T) {
	lot := park.New(701, 720)
	lot.SetShared("n2", noShared{})
	lot.Remote("n1", "acct_a", 701, park.Parked{Call: "call_n1-x"}, false)
	var mu sync.Mutex
	var handed []string
	w := newWorld(t, func(o *Options) {
		o.Park, o.ParkTimeout = lot, 2*time.Minute
		o.ParkElsewhere = func(_ Device, cr Create, _ []Candidate, node string, _ func()) bool {
			mu.Lock()
			defer mu.Unlock()
			handed = append(handed, node+" "+cr.Destination)
			return true
		}
	})
	c1 := w.device("sess_c1", "user_c")
	c1.send(c1.create("701", "v=0"))
	w.quiet(c1)
	mu.Lock()
	require.Equal(t, []string{"n1 701"}, handed)
	mu.Unlock()

	c1.dial("705")
	w.expect(c1, "answer", "error:call_failed", "ended:failed")
	mu.Lock()
	require.Len(t, handed, 1, "an empty slot is answered here")
	mu.Unlock()

	// Parking here skips the slot n1 holds; picking up a slot held here
	// stays here.
	a1, b1, id := connected(t, w)
	a1.park(id)
	w.expect(a1, "parked:702", "ended:transferred")
	require.Equal(t, "n1", lot.Owner("acct_a", 701))
	require.Empty(t, lot.Owner("acct_a", 702))
	c1.dial("702")
	w.expect(c1, "answer", "answered")
	mu.Lock()
	require.Len(t, handed, 1)
	mu.Unlock()
	b1.hangup(id)
	w.expect(c1, "ended:hangup")
	w.expect(b1, "ended:hangup")
	w.noCalls()
}

// A parked call whose cluster claim another node took (ParkLost) rings
// its parker back at once, and leaves the slot.
func TestParkLostRingsBack(t *testing.T) {
	w, lot := parkWorld(t, 701, 720)
	a1, b1, id := connected(t, w)
	a1.park(id)
	w.expect(a1, "parked:701", "ended:transferred")
	w.quiet(a1, b1)
	w.m.ParkLost(id, 702) // not its slot: nothing
	w.quiet(a1, b1)
	w.m.ParkLost(id, 701)
	h := w.expect(a1, "incoming", "offer")
	require.Equal(t, Info{From: "102", FromName: "Bob", To: "701"}, h[0].info, "the parked party calls")
	require.Empty(t, lot.Busy("acct_a"))
	a1.answer(ident.CallID(h[0].call))
	w.expect(a1, "answered")
	a1.hangup(ident.CallID(h[0].call))
	w.expect(b1, "ended:hangup")
	w.noCalls()
}
