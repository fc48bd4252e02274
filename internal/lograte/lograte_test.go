package lograte

import (
	"fmt"
	"testing"
	"time"
)

type step struct {
	at         time.Duration // since the start
	key        string
	ok         bool
	suppressed int
}

func TestAllow(t *testing.T) {
	for _, tc := range []struct {
		name  string
		every time.Duration
		burst int
		steps []step
	}{
		{"one a second per key", time.Second, 1, []step{
			{0, "a", true, 0},
			{100 * time.Millisecond, "a", false, 0},
			{200 * time.Millisecond, "b", true, 0}, // keys are independent
			{300 * time.Millisecond, "a", false, 0},
			{1100 * time.Millisecond, "a", true, 2}, // two held back
			{1200 * time.Millisecond, "a", false, 0},
			{5 * time.Second, "a", true, 1},
		}},
		{"a burst, then the rate", time.Second, 3, []step{
			{0, "k", true, 0},
			{0, "k", true, 0},
			{0, "k", true, 0},
			{0, "k", false, 0},
			{500 * time.Millisecond, "k", false, 0},
			{time.Second, "k", true, 2},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Unix(1000, 0)
			var now time.Time
			l := New(tc.every, tc.burst)
			l.now = func() time.Time { return now }
			for i, s := range tc.steps {
				now = start.Add(s.at)
				ok, n := l.Allow(s.key)
				if ok != s.ok || n != s.suppressed {
					t.Fatalf("step %d (%v, %q): got (%v, %d), want (%v, %d)", i, s.at, s.key, ok, n, s.ok, s.suppressed)
				}
			}
		})
	}
}

// A flood of distinct keys takes at most maxKeys entries; once the old
// keys have been idle long enough, new keys are let through again.
func TestAllowBoundsKeys(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(time.Second, 1)
	l.now = func() time.Time { return now }
	for i := 0; i < maxKeys+500; i++ {
		l.Allow(fmt.Sprint("src", i))
	}
	if len(l.keys) != maxKeys {
		t.Fatalf("%d keys kept, want %d", len(l.keys), maxKeys)
	}
	if ok, _ := l.Allow("late"); ok {
		t.Fatal("a new key was let through while the table is full of live keys")
	}
	now = now.Add(2 * time.Second)
	if ok, _ := l.Allow("late"); !ok {
		t.Fatal("a new key was refused after the old keys went idle")
	}
	if len(l.keys) > maxKeys {
		t.Fatalf("%d keys", len(l.keys))
	}
}
