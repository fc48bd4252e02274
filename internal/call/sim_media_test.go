package call

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

// simMedia makes in-memory media and records what the call did with it.
type simMedia struct {
	mu      sync.Mutex
	legs    []*simLeg
	bridges []*simBridge
	played  []string // "ringback", "music", "echo"
	stopped int
	noAudio bool        // Bridge fails
	mixers  []*simMixer // conference mixes made (conference_test.go)
	mixMax  int         // a mix refuses legs past this many (0: none)
}

type simLeg struct {
	m       *simMedia
	id      ident.LegID
	kind    string
	closed  bool
	applied []string // SetAnswer and Reoffer SDPs, in order
	cands   []string
	onDead  func(cause string, idle time.Duration)
	stats   *MediaStats // set by setStats; nil: a fixed reading
}

// Watch implements WatchedMedia: kill reports the death.
func (l *simLeg) Watch(onDead func(string, time.Duration)) {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	if l.onDead == nil {
		l.onDead = onDead
	}
}

// kill reports the death of the n-th leg made of kind, as the media
// watchdog would.
func (f *simMedia) kill(kind string, n int) {
	f.mu.Lock()
	var dead func(string, time.Duration)
	for _, l := range f.legs {
		if l.kind == kind {
			if n == 0 {
				dead = l.onDead
				break
			}
			n--
		}
	}
	f.mu.Unlock()
	if dead != nil {
		dead("no media", time.Second)
	}
}

// appliedTo lists the SDPs applied to the legs of kind, in order.
func (f *simMedia) appliedTo(kind string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, l := range f.legs {
		if l.kind == kind {
			out = append(out, l.applied...)
		}
	}
	return out
}

func (f *simMedia) newLeg(id ident.LegID, kind string) *simLeg {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := &simLeg{m: f, id: id, kind: kind}
	f.legs = append(f.legs, l)
	return l
}

func (f *simMedia) NewWebRTC(id ident.LegID) (WebRTCMedia, error) { return f.newLeg(id, "webrtc"), nil }
func (f *simMedia) NewRTP(id ident.LegID) (LegMedia, error)       { return f.newLeg(id, "rtp"), nil }

func (f *simMedia) Bridge(a, b MediaLeg) (Bridge, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.noAudio {
		return nil, errors.New("no bridge")
	}
	br := &simBridge{m: f, a: a.(*simLeg), b: b.(*simLeg)}
	f.bridges = append(f.bridges, br)
	return br, nil
}

func (f *simMedia) Play(_ MediaLeg, fd Feed) (Stopper, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.played = append(f.played, feedNames[fd])
	return simStopper{f}, nil
}

func (f *simMedia) Echo(MediaLeg) (Stopper, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.played = append(f.played, "echo")
	return simStopper{f}, nil
}

type simStopper struct{ m *simMedia }

func (s simStopper) Stop() {
	s.m.mu.Lock()
	s.m.stopped++
	s.m.mu.Unlock()
}

func (l *simLeg) Stats() MediaStats {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	if l.stats != nil {
		return *l.stats
	}
	return MediaStats{Codec: "PCMU", PacketsSent: 10, PacketsReceived: 9}
}

func (l *simLeg) Close() error {
	l.m.mu.Lock()
	l.closed = true
	l.m.mu.Unlock()
	return nil
}

func (l *simLeg) AnswerOffer(_ context.Context, offer string) (string, error) {
	if offer == "bad" {
		return "", errors.New("bad sdp")
	}
	return "server-answer", nil
}

func (l *simLeg) CreateOffer(context.Context) (string, error) { return "server-offer", nil }

func (l *simLeg) SetAnswer(a string) error {
	if a == "bad" {
		return errors.New("bad sdp")
	}
	l.m.mu.Lock()
	l.applied = append(l.applied, a)
	l.m.mu.Unlock()
	return nil
}

func (l *simLeg) Reoffer(_ context.Context, offer string) (string, error) {
	if offer == "bad" {
		return "", errors.New("bad sdp")
	}
	l.m.mu.Lock()
	l.applied = append(l.applied, offer)
	l.m.mu.Unlock()
	return "server-answer", nil
}

func (l *simLeg) AddCandidate(c string, _ *string, _ *uint16) error {
	if c == "bad" {
		return errors.New("bad candidate")
	}
	l.m.mu.Lock()
	l.cands = append(l.cands, c)
	l.m.mu.Unlock()
	return nil
}

var feedNames = map[Feed]string{FeedForward: "forward", FeedSilence: "silence", FeedMusic: "music", FeedRingback: "ringback"}

type simBridge struct {
	m        *simMedia
	a, b     *simLeg
	toA, toB Feed
	stopped  bool
	digits   []string
	tap      func(fromA bool, pcm []int16) // a recording's (recording_test.go)
	beeps    int
}

func (b *simBridge) SetFeeds(toA, toB Feed) {
	b.m.mu.Lock()
	b.toA, b.toB = toA, toB
	b.m.mu.Unlock()
}

func (b *simBridge) SendDigit(toA bool, digit rune, d time.Duration) error {
	b.m.mu.Lock()
	defer b.m.mu.Unlock()
	to := "b"
	if toA {
		to = "a"
	}
	b.digits = append(b.digits, fmt.Sprintf("%c>%s/%s", digit, to, d))
	return nil
}

func (b *simBridge) Stop() {
	b.m.mu.Lock()
	b.stopped = true
	b.m.mu.Unlock()
}

// playedAll lists what was played, in order.
func (f *simMedia) playedAll() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.played)
}

// openLegs counts the legs whose media is not closed.
func (f *simMedia) openLegs() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, l := range f.legs {
		if !l.closed {
			n++
		}
	}
	return n
}

// digits lists the digits the only live bridge played.
func (f *simMedia) digits() []string {
	live := f.live()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(live) != 1 {
		return nil
	}
	return slices.Clone(live[0].digits)
}

// candidates lists the candidates applied to any leg.
func (f *simMedia) candidates() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, l := range f.legs {
		out = append(out, l.cands...)
	}
	return out
}

// bridgeCount counts the bridges made.
func (f *simMedia) bridgeCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.bridges)
}

// live returns the bridges not stopped.
func (f *simMedia) live() []*simBridge {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*simBridge
	for _, b := range f.bridges {
		if !b.stopped {
			out = append(out, b)
		}
	}
	return out
}

// feeds describes the only live bridge: "toA/toB".
func (w *world) feeds() string {
	w.t.Helper()
	live := w.media.live()
	require.Len(w.t, live, 1, "live bridges")
	w.media.mu.Lock()
	defer w.media.mu.Unlock()
	return feedNames[live[0].toA] + "/" + feedNames[live[0].toB]
}
