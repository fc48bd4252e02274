package park

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/presence"
)

func TestSlot(t *testing.T) {
	l := New(701, 720)
	for _, tc := range []struct {
		in   string
		slot int
		ok   bool
	}{
		{"701", 701, true}, {"720", 720, true}, {"700", 0, false}, {"721", 0, false},
		{"", 0, false}, {"0701", 0, false}, {"70a", 0, false}, {"+701", 0, false}, {"9999999999", 0, false},
	} {
		slot, ok := l.Slot(tc.in)
		require.Equal(t, tc.ok, ok, tc.in)
		require.Equal(t, tc.slot, slot, tc.in)
	}
	s, ok := l.SlotOfID("park.705")
	require.True(t, ok)
	require.Equal(t, 705, s)
	_, ok = l.SlotOfID("user_705")
	require.False(t, ok)
	var none *Lot
	_, ok = none.Slot("701")
	require.False(t, ok, "no lot: no slots")
}

func TestClaimTakeRelease(t *testing.T) {
	l := New(701, 703)
	a, b := ident.AccountID("acct_a"), ident.AccountID("acct_b")
	for i, want := range []int{701, 702, 703} {
		s, ok := l.Claim(a, Parked{Call: ident.CallID("call_" + string(rune('1'+i)))}, nil)
		require.True(t, ok)
		require.Equal(t, want, s, "the first free slot")
	}
	_, ok := l.Claim(a, Parked{Call: "call_x"}, nil)
	require.False(t, ok, "every slot taken")
	s, ok := l.Claim(b, Parked{Call: "call_b"}, nil)
	require.True(t, ok, "another account has its own slots")
	require.Equal(t, 701, s)

	p, ok := l.Take(a, 702)
	require.True(t, ok)
	require.Equal(t, ident.CallID("call_2"), p.Call)
	_, ok = l.Take(a, 702)
	require.False(t, ok, "a slot is picked up once")
	s, ok = l.Claim(a, Parked{Call: "call_4"}, nil)
	require.True(t, ok)
	require.Equal(t, 702, s, "a freed slot is reused first")

	require.False(t, l.Release(a, 701, "call_other"), "only the call parked there releases a slot")
	require.True(t, l.Release(a, 701, "call_1"))
	require.False(t, l.Release(a, 701, "call_1"), "release is once")
	require.Len(t, l.Busy(a), 2)
	require.Len(t, l.Busy(b), 1)
}

func TestWatch(t *testing.T) {
	l := New(701, 720)
	a := ident.AccountID("acct_a")
	_, _, err := l.Watch(a, "park.799", func(presence.State) {})
	require.ErrorIs(t, err, presence.ErrUnavailable)
	_, _, err = l.Watch(a, "user_1", func(presence.State) {})
	require.ErrorIs(t, err, presence.ErrUnavailable)

	var got []presence.State
	cur, cancel, err := l.Watch(a, "park.701", func(st presence.State) { got = append(got, st) })
	require.NoError(t, err)
	require.Equal(t, presence.Available, cur.Status)
	require.Equal(t, ident.UserID("park.701"), cur.User)
	require.Equal(t, "701", cur.Extension)

	l.Claim("acct_other", Parked{Call: "call_o"}, nil)
	require.Empty(t, got, "another account's slot is another slot")
	l.Claim(a, Parked{Call: "call_1", From: "103"}, nil)
	require.Len(t, got, 1)
	require.Equal(t, presence.OnCall, got[0].Status)
	require.Equal(t, []presence.Dialog{{ID: "call_1", State: presence.DialogConfirmed, Remote: "103"}}, got[0].Dialogs)

	l.Take(a, 701)
	require.Len(t, got, 2)
	require.Equal(t, presence.Available, got[1].Status)
	require.Equal(t, presence.DialogTerminated, got[1].Dialogs[0].State)

	cur, cancel2, err := l.Watch(a, "park.701", func(presence.State) {})
	require.NoError(t, err)
	require.Empty(t, cur.Dialogs, "a terminated dialog is reported once")
	cancel2()

	cancel()
	cancel()
	l.Claim(a, Parked{Call: "call_2"}, nil)
	require.Len(t, got, 2, "no calls after cancel")
	require.Empty(t, l.watchers)
}

// FuzzSlot: any dialled string either is a slot in range, spelt as its
// number, or is not a slot; nothing panics.
func FuzzSlot(f *testing.F) {
	for _, s := range []string{"701", "720", "0701", "-1", "７０１", "70 1", "99999999999999999999", "park.701"} {
		f.Add(s)
	}
	l := New(701, 720)
	f.Fuzz(func(t *testing.T, dest string) {
		slot, ok := l.Slot(dest)
		if !ok {
			return
		}
		if slot < 701 || slot > 720 || strconv.Itoa(slot) != dest {
			t.Fatalf("%q parsed as slot %d", dest, slot)
		}
		if s, ok := l.SlotOfID(ID(slot)); !ok || s != slot {
			t.Fatalf("slot %d: its id %q does not parse back", slot, ID(slot))
		}
	})
}

// TestExpireForgetsUnrefreshedClaims: another node's claim that is no
// longer refreshed is forgotten (its watchers told the slot is idle); a
// refreshed one stays, and this node's own slots are never expired.
func TestExpireForgetsUnrefreshedClaims(t *testing.T) {
	l := New(701, 720)
	l.SetShared("n1", nil)
	a := ident.AccountID("acct_a")
	var got []presence.State
	_, cancel, err := l.Watch(a, "park.702", func(st presence.State) { got = append(got, st) })
	require.NoError(t, err)
	defer cancel()
	l.Remote("n2", a, 702, Parked{Call: "call_2"}, false)
	require.Equal(t, "n2", l.Owner(a, 702))
	require.Len(t, got, 1)

	l.Expire(time.Hour)
	require.Equal(t, "n2", l.Owner(a, 702), "refreshed within the TTL")
	l.Remote("n2", a, 702, Parked{Call: "call_2"}, false) // a refresh: no news
	require.Len(t, got, 1)

	l.Expire(-time.Millisecond) // every claim is older than that
	require.Empty(t, l.Owner(a, 702))
	require.Empty(t, l.Busy(a))
	require.Len(t, got, 2)
	require.Equal(t, presence.Available, got[1].Status)
}
