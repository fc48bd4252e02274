package media

import (
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/config"
)

// fakeIdle is a leg whose idleness and direction the test sets.
type fakeIdle struct {
	idle     atomic.Int64
	expected atomic.Bool
}

func (f *fakeIdle) get() (time.Duration, bool) {
	return time.Duration(f.idle.Load()), f.expected.Load()
}

func TestWatchdogDecision(t *testing.T) {
	for _, tt := range []struct {
		name     string
		idle     time.Duration
		expected bool
		dead     bool
	}{
		{"fresh media", 100 * time.Millisecond, true, false},
		{"idle past the timeout", 2 * time.Second, true, true},
		{"exactly the timeout is not past it", time.Second, true, false},
		{"held (not expected to send) and idle", time.Hour, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeIdle{}
			f.idle.Store(int64(tt.idle))
			f.expected.Store(tt.expected)
			w := &Watchdog{timeout: time.Second, idle: f.get}
			dead, idle := w.dead()
			require.Equal(t, tt.dead, dead)
			require.Equal(t, tt.idle, idle)
		})
	}
}

func TestWatchdogFiresOnceWhenIdle(t *testing.T) {
	f := &fakeIdle{}
	f.expected.Store(true)
	type death struct {
		cause string
		idle  time.Duration
	}
	got := make(chan death, 4)
	w := NewWatchdog(200*time.Millisecond, f.get, func(c string, d time.Duration) { got <- death{c, d} })
	defer w.Stop()
	f.idle.Store(int64(time.Second)) // the media goes quiet
	select {
	case d := <-got:
		require.Equal(t, CauseNoMedia, d.cause)
		require.Equal(t, time.Second, d.idle)
	case <-time.After(5 * time.Second):
		t.Fatal("the watchdog did not fire")
	}
	w.Fail(CauseICEFailed) // after the first report, nothing more
	select {
	case d := <-got:
		t.Fatalf("second report %v", d)
	default:
	}
}

func TestWatchdogFailAndStop(t *testing.T) {
	f := &fakeIdle{}
	got := make(chan string, 2)
	w := NewWatchdog(time.Hour, f.get, func(c string, _ time.Duration) { got <- c })
	w.Fail(CauseICEFailed)
	require.Equal(t, CauseICEFailed, <-got)

	w = NewWatchdog(0, f.get, func(c string, _ time.Duration) { got <- c }) // timeout 0: Fail only
	w.Stop()
	w.Fail(CauseICEFailed)
	f.expected.Store(true)
	f.idle.Store(int64(time.Hour))
	require.Nil(t, w.timer)
	select {
	case c := <-got:
		t.Fatalf("stopped watchdog reported %q", c)
	default:
	}
}

func TestActivityIdle(t *testing.T) {
	var a activity
	a.touch()
	require.Less(t, a.idle(), time.Second)
	a.last.Store(time.Now().Add(-time.Minute).UnixNano())
	require.GreaterOrEqual(t, a.idle(), time.Minute)
}

// TestWebRTCWatch: a leg that hears nothing is reported dead after
// media.timeout; a leg that hears audio is not.
func TestWebRTCWatch(t *testing.T) {
	cfg := config.Default().Media
	cfg.IncludeLoopback = true
	cfg.Timeout = 1500 * time.Millisecond // pion reports every second
	e, err := NewEngine(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	a, b := pair(t, e)

	deadA, deadB := make(chan string, 1), make(chan string, 1)
	a.Watch(func(c string, _ time.Duration) { deadA <- c })
	b.Watch(func(c string, _ time.Duration) { deadB <- c })
	b.Watch(func(string, time.Duration) { t.Error("second Watch must not count") })

	// a sends audio to b for two timeouts: b stays alive, and so does
	// a, which hears only b's RTCP receiver reports (as a held leg would).
	enc, err := audio.NewEncoder(audio.Opus, 8000)
	require.NoError(t, err)
	pcm := make([]int16, audio.FrameSamples(8000))
	tone := audio.NewTone(440, 8000, 0.3)
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if f, ok := a.SendFormat(); ok {
			tone.Read(pcm)
			payload, err := enc.Encode(pcm)
			require.NoError(t, err)
			_ = a.WriteAudio(payload, uint32(len(pcm))*f.ClockRate/8000)
		}
		select {
		case c := <-deadB:
			t.Fatalf("b reported dead (%s) while hearing audio", c)
		case c := <-deadA:
			t.Fatalf("a reported dead (%s) while hearing RTCP", c)
		default:
		}
	}
	// a's peer connection goes away: b hears neither RTP nor RTCP.
	require.NoError(t, a.Close())
	select {
	case c := <-deadB:
		require.Contains(t, []string{CauseNoMedia, CauseICEFailed}, c)
	case <-time.After(10 * time.Second):
		t.Fatal("b was not reported dead")
	}
}

// TestWebRTCWatchICEFailed: when the far end vanishes, ICE fails (here
// after shortened grace periods) and the leg is reported dead at once,
// long before media.timeout.
func TestWebRTCWatchICEFailed(t *testing.T) {
	cfg := config.Default().Media
	cfg.IncludeLoopback = true
	cfg.Timeout = time.Hour
	e, err := newTunedEngine(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), func(se *webrtc.SettingEngine) {
		se.SetICETimeouts(300*time.Millisecond, 600*time.Millisecond, 100*time.Millisecond)
	}, registerInterceptors)
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	a, b := pair(t, e)
	dead := make(chan string, 1)
	b.Watch(func(c string, _ time.Duration) { dead <- c })
	require.NoError(t, a.Close())
	select {
	case c := <-dead:
		require.Equal(t, CauseICEFailed, c)
	case <-time.After(10 * time.Second):
		t.Fatal("ICE failure not reported")
	}
}
