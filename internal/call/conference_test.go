package call

import (
	"errors"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

// simMixer records what a conference asks of its mix.
type simMixer struct {
	m       *simMedia
	legs    []*simLeg
	muted   map[*simLeg]bool
	held    map[*simLeg]bool
	stopped bool
	// a recording's tap and beeps (recording_test.go)
	tapFirst *simLeg
	tap      func(fromA bool, pcm []int16)
	beeps    int
}

func (f *simMedia) Mixer() (Mixer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	x := &simMixer{m: f, muted: map[*simLeg]bool{}, held: map[*simLeg]bool{}}
	f.mixers = append(f.mixers, x)
	return x, nil
}

// mixersOf lists the mixes made so far.
func mixersOf(f *simMedia) []*simMixer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.mixers)
}

func (x *simMixer) Add(l MediaLeg) error {
	x.m.mu.Lock()
	defer x.m.mu.Unlock()
	if x.m.mixMax > 0 && len(x.legs) >= x.m.mixMax {
		return errors.New("mix full")
	}
	x.legs = append(x.legs, l.(*simLeg))
	return nil
}

func (x *simMixer) Remove(l MediaLeg) {
	x.m.mu.Lock()
	defer x.m.mu.Unlock()
	x.legs = slices.DeleteFunc(x.legs, func(s *simLeg) bool { return s == l })
}

func (x *simMixer) SetMuted(l MediaLeg, on bool) {
	x.m.mu.Lock()
	x.muted[l.(*simLeg)] = on
	x.m.mu.Unlock()
}

func (x *simMixer) SetHeld(l MediaLeg, on bool) {
	x.m.mu.Lock()
	x.held[l.(*simLeg)] = on
	x.m.mu.Unlock()
}

func (x *simMixer) Stop() {
	x.m.mu.Lock()
	x.stopped = true
	x.m.mu.Unlock()
}

// state reports the mix: legs in it, how many muted and held, stopped.
func (x *simMixer) state() (legs, muted, held int, stopped bool) {
	x.m.mu.Lock()
	defer x.m.mu.Unlock()
	for _, l := range x.legs {
		if x.muted[l] {
			muted++
		}
		if x.held[l] {
			held++
		}
	}
	return len(x.legs), muted, held, x.stopped
}

// Conference lets a device hear conference.updated.
func (p devParty) Conference(info ConferenceInfo) { p.hear("conference", info) }

// secondCall: alice (a1) holds her call id with bob (b1) and calls dave
// (d1), who answers; it returns dave and the second call's id.
func secondCall(t *testing.T, w *world, a1, b1 *simDevice, id ident.CallID) (*simDevice, ident.CallID) {
	t.Helper()
	a1.hold(id)
	w.expect(a1, "held:local")
	w.expect(b1, "held:remote")
	d1 := w.device("sess_d1", "user_d")
	id2 := a1.dial("104")
	w.expect(d1, "incoming", "offer")
	d1.answer(id2)
	w.expect(a1, "answer", "ringing", "answered")
	w.expect(d1, "answered")
	return d1, id2
}

// merged sets up a conference: alice (a1) calls bob (b1), holds, calls
// dave (d1), merges the call with dave into the call with bob.
func merged(t *testing.T, w *world) (a1, b1, d1 *simDevice, id, id2 ident.CallID) {
	t.Helper()
	a1, b1, id = connected(t, w)
	d1, id2 = secondCall(t, w, a1, b1, id)
	a1.do(id, Merge{ReqID: "r1", With: id2})
	h := w.expect(a1, "ended:merged", "resumed", "conference")
	require.Equal(t, string(id2), h[0].call)
	info := h[2].info.(ConferenceInfo)
	require.Equal(t, "r1", info.ReqID)
	require.Len(t, info.Participants, 3)
	w.expect(b1, "resumed")
	w.quiet(b1, d1)
	return a1, b1, d1, id, id2
}

func TestMergeMakesConference(t *testing.T) {
	w := newWorld(t)
	a1, b1, d1, id, id2 := merged(t, w)
	x := mixersOf(w.media)[0]
	legs, _, _, _ := x.state()
	require.Equal(t, 3, legs)
	require.Equal(t, "merged by user_a: user_d joined conference call "+string(id), w.record(id2).Transfer)
	require.Equal(t, string(EndMerged), w.record(id2).EndReason)

	// A participant mutes itself, holds: the mix follows; nobody else hears of it.
	d1.mute(id2, true)
	w.expect(a1, "conference")
	b1.hold(id)
	w.expect(b1, "held:local")
	w.expect(a1, "conference")
	_, muted, held, _ := x.state()
	require.Equal(t, [2]int{1, 1}, [2]int{muted, held})
	b1.resume(id)
	w.expect(b1, "resumed")
	w.expect(a1, "conference")

	// Transfers are refused in a conference.
	b1.transfer(id, "105")
	w.expect(b1, "error:invalid_message")

	// Dave leaves: the others go on; bob leaves: the conference ends.
	d1.hangup(id2)
	w.expect(d1, "ended:hangup")
	w.expect(a1, "conference")
	w.quiet(b1)
	b1.hangup(id)
	w.expect(b1, "ended:hangup")
	w.expect(a1, "ended:hangup")
	w.noCalls()
	_, _, _, stopped := x.state()
	require.True(t, stopped, "the mix stops with the call")
	require.Equal(t, []string{"callee:user_b:hangup", "callee:user_d:hangup", "caller:user_a:hangup"}, legUsers(w.record(id)))
}

// A party the mix cannot take is ended, not left in the call unheard; the
// host hears why and keeps its call.
func TestMergeMixerRefusesParty(t *testing.T) {
	w := newWorld(t)
	w.media.mixMax = 2
	a1, b1, id := connected(t, w)
	d1, id2 := secondCall(t, w, a1, b1, id)
	a1.do(id, Merge{ReqID: "r1", With: id2})
	w.expect(a1, "ended:merged", "resumed", "error:call_failed")
	w.expect(d1, "ended:failed")
	w.expect(b1, "resumed")
	legs, _, _, _ := mixersOf(w.media)[0].state()
	require.Equal(t, 2, legs)
	b1.hangup(id)
	w.expect(b1, "ended:hangup")
	w.expect(a1, "ended:hangup")
	w.noCalls()
}

func TestConferenceHostLeaves(t *testing.T) {
	for _, tt := range []struct {
		name     string
		hostEnds bool
	}{{"stay", false}, {"end", true}} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, func(o *Options) { o.Conference.HostEnds = tt.hostEnds })
			a1, b1, d1, id, id2 := merged(t, w)
			a1.hangup(id)
			w.expect(a1, "ended:hangup")
			if tt.hostEnds {
				w.expect(b1, "ended:hangup")
				w.expect(d1, "ended:hangup")
				w.noCalls()
				return
			}
			w.quiet(b1, d1)
			d1.hangup(id2)
			w.expect(b1, "ended:hangup")
			w.noCalls()
		})
	}
}

func TestConferenceParticipantRequests(t *testing.T) {
	w := newWorld(t)
	a1, b1, d1, id, _ := merged(t, w)
	x := mixersOf(w.media)[0]
	call := w.m.lookup(id)
	var dave ident.LegID
	done := make(chan struct{})
	call.post(event{fn: func() {
		for _, l := range call.conf.parts {
			if l.user == "user_d" {
				dave = l.id
			}
		}
		close(done)
	}})
	<-done

	a1.do(id, ParticipantMute{ReqID: "m1", Participant: dave, On: true})
	h := w.expect(a1, "conference")
	require.Equal(t, "m1", h[0].info.(ConferenceInfo).ReqID)
	_, muted, _, _ := x.state()
	require.Equal(t, 1, muted)

	b1.do(id, ParticipantRemove{ReqID: "x", Participant: dave})
	w.expect(b1, "error:invalid_message") // only the host
	a1.do(id, ParticipantRemove{ReqID: "x", Participant: "leg_nope"})
	w.expect(a1, "error:call_not_found")

	a1.do(id, ParticipantRemove{ReqID: "r2", Participant: dave})
	w.expect(d1, "ended:hangup")
	h = w.expect(a1, "conference")
	require.Len(t, h[0].info.(ConferenceInfo).Participants, 2)
	legs, _, _, _ := x.state()
	require.Equal(t, 2, legs)
}

func TestMergeRefused(t *testing.T) {
	for _, tt := range []struct {
		name string
		max  int
		with func(w *world, a1 *simDevice, id ident.CallID) ident.CallID
		want string
	}{
		{"itself", 0, func(_ *world, _ *simDevice, id ident.CallID) ident.CallID { return id }, "error:invalid_message"},
		{"unknown call", 0, func(*world, *simDevice, ident.CallID) ident.CallID { return "call_nope" }, "error:call_not_found"},
		{"unanswered", 0, func(w *world, a1 *simDevice, _ ident.CallID) ident.CallID {
			d1 := w.device("sess_d1", "user_d")
			id2 := a1.dial("104")
			w.expect(d1, "incoming", "offer")
			w.expect(a1, "answer", "ringing")
			return id2
		}, "error:call_failed"},
		{"full", 2, func(w *world, a1 *simDevice, _ ident.CallID) ident.CallID {
			d1 := w.device("sess_d1", "user_d")
			id2 := a1.dial("104")
			w.expect(d1, "incoming", "offer")
			d1.answer(id2)
			w.expect(a1, "answer", "ringing", "answered")
			return id2
		}, "error:conference_full"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, func(o *Options) { o.Conference.MaxParticipants = tt.max })
			a1, b1, id := connected(t, w)
			with := tt.with(w, a1, id)
			a1.do(id, Merge{ReqID: "r", With: with})
			h := w.expect(a1, tt.want)
			require.Equal(t, "r", h[0].info.(Refusal).ReqID)
			w.quiet(b1)
			require.Empty(t, mixersOf(w.media), "no mix was started")
		})
	}
}

// A host whose session resumes hears call.restored, then the conference.
func TestConferenceRestored(t *testing.T) {
	w := newWorld(t)
	a1, b1, d1, _, _ := merged(t, w)
	w.m.Restore(a1)
	h := w.expect(a1, "restored:active", "conference")
	require.Len(t, h[1].info.(ConferenceInfo).Participants, 3)
	w.m.Restore(b1)
	w.expect(b1, "restored:active")
	w.quiet(a1, b1, d1)
}

func TestConferenceAdd(t *testing.T) {
	w := newWorld(t)
	a1, b1, id := connected(t, w)
	d1 := w.device("sess_d1", "user_d")
	a1.do(id, Add{ReqID: "a1", Destination: "104"})
	h := w.expect(a1, "conference")
	require.Equal(t, "a1", h[0].info.(ConferenceInfo).ReqID)
	require.Len(t, h[0].info.(ConferenceInfo).Participants, 2, "dave rings")
	h = w.expect(d1, "incoming", "offer")
	require.Equal(t, Info{From: "101", FromName: "Alice", To: "104"}, h[0].info, "dave sees alice calling")
	added := ident.CallID(h[0].call)
	d1.answer(added)
	w.expect(d1, "answered")
	h = w.expect(a1, "conference")
	require.Len(t, h[0].info.(ConferenceInfo).Participants, 3)
	w.quiet(a1, b1, d1)
	legs, _, _, _ := mixersOf(w.media)[0].state()
	require.Equal(t, 3, legs)
	require.Equal(t, string(EndMerged), w.record(added).EndReason)

	// An add nobody takes is refused to the host; a ringing add ends with
	// the conference.
	e1 := w.device("sess_e1", "user_e")
	a1.do(id, Add{ReqID: "a2", Destination: "105"})
	w.expect(a1, "conference")
	h = w.expect(e1, "incoming", "offer")
	e1.reject(ident.CallID(h[0].call), false)
	w.expect(e1, "ended:rejected")
	h = w.expect(a1, "error:call_failed")
	require.Equal(t, "a2", h[0].info.(Refusal).ReqID)
	require.Contains(t, h[0].info.(Refusal).Msg, "105: rejected")

	a1.do(id, Add{ReqID: "a3", Destination: "105"})
	w.expect(a1, "conference")
	w.expect(e1, "incoming", "offer")
	a1.hangup(id) // host leaves: bob and dave stay, erin still rings
	w.expect(a1, "ended:hangup")
	d1.hangup(added)
	w.expect(d1, "ended:hangup")
	w.expect(b1, "ended:hangup")
	w.expect(e1, "ended:hangup")
	w.noCalls()
}
