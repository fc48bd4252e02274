package call

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/park"
	"github.com/switchboard-voice/switchboard/internal/store"
)

func init() { codeWords[CodeParkFull] = "park_full" }

func (p devParty) Parked(reqID, slot string) { p.hear("parked:"+slot, reqID) }

func (d *simDevice) park(id ident.CallID) { d.do(id, Park{ReqID: "req_park"}) }

func parkWorld(t *testing.T, first, last int) (*world, *park.Lot) {
	lot := park.New(first, last)
	return newWorld(t, func(o *Options) { o.Park, o.ParkTimeout = lot, 2*time.Minute }), lot
}

func TestParkAndPickup(t *testing.T) {
	w, lot := parkWorld(t, 701, 720)
	a1, b1, id := connected(t, w)
	a1.park(id)
	h := w.expect(a1, "parked:701", "ended:transferred")
	require.Equal(t, "req_park", h[0].info)
	w.quiet(b1)
	require.Equal(t, []string{"music"}, w.media.playedAll())
	require.Contains(t, lot.Busy("acct_a"), 701)
	lc, ok := w.m.LiveCall(context.Background(), id)
	require.True(t, ok)
	require.Equal(t, StateParked, lc.State)
	require.Len(t, lc.Legs, 1)
	require.Equal(t, "parked", lc.Legs[0].Status)

	c1 := w.device("sess_c1", "user_c")
	pid := c1.dial("701")
	w.expect(c1, "answer", "answered")
	w.quiet(b1)
	require.Empty(t, lot.Busy("acct_a"), "picked up: the slot is free")
	require.Equal(t, "forward/forward", w.feeds())

	b1.hangup(id) // the parked party still speaks under its own call id
	w.expect(c1, "ended:hangup")
	w.expect(b1, "ended:hangup")
	w.noCalls()
	require.Contains(t, w.record(id).Transfer, "parked by user_a in 701; picked up from park slot 701")
	rec := w.record(pid)
	require.Equal(t, "picked up user_b from park slot 701", rec.Transfer)
	require.Equal(t, []string{"callee:user_b:hangup", "caller:user_c:hangup"}, legUsers(rec))
}

// A park from hold: the parked party heard call.held and hears
// call.resumed once picked up.
func TestParkFromHoldAndByTransfer(t *testing.T) {
	w, _ := parkWorld(t, 701, 720)
	a1, b1, id := connected(t, w)
	a1.hold(id)
	w.expect(b1, "held:remote")
	a1.transfer(id, ParkCode)
	w.expect(a1, "held:local", "ended:transferred")
	c1 := w.device("sess_c1", "user_c")
	c1.dial("701")
	w.expect(c1, "answer", "answered")
	w.expect(b1, "resumed")
}

func TestParkSlots(t *testing.T) {
	w, lot := parkWorld(t, 701, 702)
	a1, b1, id1 := connected(t, w)
	a1.park(id1)
	w.expect(a1, "parked:701", "ended:transferred")
	c1, d1 := w.device("sess_c1", "user_c"), w.device("sess_d1", "user_d")
	id2 := c1.dial("104")
	w.expect(d1, "incoming", "offer")
	d1.answer(id2)
	w.expect(c1, "answer", "ringing", "answered")
	w.expect(d1, "answered")
	c1.park(id2)
	w.expect(c1, "parked:702", "ended:transferred")

	e1 := w.device("sess_e1", "user_e")
	id3 := e1.dial("101")
	w.expect(a1, "incoming", "offer")
	a1.answer(id3)
	w.expect(e1, "answer", "ringing", "answered")
	w.expect(a1, "answered")
	e1.park(id3)
	h := w.expect(e1, "error:park_full")
	require.Equal(t, "req_park", h[0].info.(Refusal).ReqID)
	w.quiet(e1, a1)
	require.Len(t, lot.Busy("acct_a"), 2)

	// The parked party hangs up: its slot is free again, and taken first.
	b1.hangup(id1)
	w.expect(b1, "ended:hangup")
	w.checkFor(func() bool { _, busy := lot.Busy("acct_a")[701]; return !busy }, "slot 701 freed")
	e1.park(id3)
	w.expect(e1, "parked:701", "ended:transferred")
}

func TestPickupEmptySlot(t *testing.T) {
	w, _ := parkWorld(t, 701, 720)
	c1 := w.device("sess_c1", "user_c")
	c1.dial("705")
	h := w.expect(c1, "answer", "error:call_failed", "ended:failed")
	_, msg := errorOf(h[1])
	require.Equal(t, "park slot 705 is empty", msg)
	w.noCalls()
}

func TestParkWithoutLot(t *testing.T) {
	w := newWorld(t)
	a1, b1, id := connected(t, w)
	a1.park(id)
	w.expect(a1, "error:call_failed")
	w.quiet(a1, b1)
	require.Equal(t, "forward/forward", w.feeds())
}

func TestParkTimeout(t *testing.T) {
	for _, answer := range []bool{true, false} {
		t.Run(map[bool]string{true: "answered", false: "unanswered"}[answer], func(t *testing.T) {
			w, lot := parkWorld(t, 701, 720)
			a1, b1, id := connected(t, w)
			a1.park(id)
			w.expect(a1, "parked:701", "ended:transferred")
			w.tick(time.Minute)
			w.quiet(a1, b1)
			w.tick(time.Minute)
			h := w.expect(a1, "incoming", "offer")
			require.Equal(t, Info{From: "102", FromName: "Bob", To: "701"}, h[0].info, "the parked party calls")
			recallID := ident.CallID(h[0].call)
			require.NotEqual(t, id, recallID)
			require.Empty(t, lot.Busy("acct_a"))
			c1 := w.device("sess_c1", "user_c")
			c1.dial("701")
			w.expect(c1, "answer", "error:call_failed", "ended:failed")
			if !answer {
				w.tick(30 * time.Second)
				w.expect(a1, "ended:no-answer")
				w.expect(b1, "ended:no-answer")
				w.noCalls()
				return
			}
			a1.answer(recallID)
			w.expect(a1, "answered")
			w.quiet(b1)
			require.Equal(t, "forward/forward", w.feeds())
			a1.hangup(recallID)
			w.expect(b1, "ended:hangup")
			require.Contains(t, w.record(id).Transfer, "parked by user_a in 701; not picked up, recalling the parker; answered by user_a")
		})
	}
}

// A number that is a user's extension is theirs, not a park slot: parking
// skips the slot, and dialling it rings the user. (An account with users
// at 701–720 keeps reaching them when call park comes.)
func TestParkSkipsExtensions(t *testing.T) {
	w, lot := parkWorld(t, 701, 703)
	w.dir.mu.Lock()
	w.dir.users["701"] = &store.User{ID: "user_f", AccountID: "acct_a", Extension: "701", Name: "Frank", RingTimeoutSeconds: 20}
	w.dir.mu.Unlock()
	a1, b1, id := connected(t, w)
	a1.park(id)
	w.expect(a1, "parked:702", "ended:transferred")
	w.quiet(b1)
	require.Contains(t, lot.Busy("acct_a"), 702)

	f1 := w.device("sess_f1", "user_f")
	c1 := w.device("sess_c1", "user_c")
	fid := c1.dial("701")
	w.expect(f1, "incoming", "offer") // Frank's phone rings: 701 is his
	f1.answer(fid)
	w.expect(c1, "answer", "ringing", "answered")
	w.expect(f1, "answered")
	c1.hangup(fid)
	w.expect(f1, "ended:hangup")
	b1.hangup(id)
	w.expect(b1, "ended:hangup")
	w.noCalls()
}

// A park that comes while a merge into the call is under way is refused:
// the party being merged would be left behind.
func TestParkRefusedDuringMerge(t *testing.T) {
	w, lot := parkWorld(t, 701, 720)
	a1, b1, id := connected(t, w)
	d1, id2 := secondCall(t, w, a1, b1, id)
	a1.do(id, Merge{ReqID: "r1", With: id2})
	a1.park(id) // during the merge (refused: under way) or after it (refused: a conference)
	require.ElementsMatch(t, []string{"error:invalid_message", "ended:merged", "resumed", "conference"}, whats(w.next(a1, 4)))
	require.Empty(t, lot.Busy("acct_a"), "nobody was parked")
	w.expect(b1, "resumed") // the merge ended the host's hold
	w.quiet(b1, d1)
}
