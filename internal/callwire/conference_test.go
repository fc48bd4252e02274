package callwire

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// fakeMixer mixes nothing.
type fakeMixer struct{}

func (fakeMixer) Add(call.MediaLeg) error      { return nil }
func (fakeMixer) Remove(call.MediaLeg)         {}
func (fakeMixer) SetMuted(call.MediaLeg, bool) {}
func (fakeMixer) SetHeld(call.MediaLeg, bool)  {}
func (fakeMixer) Stop()                        {}
func (fakeFactory) Mixer() (call.Mixer, error) { return fakeMixer{}, nil }
func (d *fakeDevice) calls() (latest, previous string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := len(d.got) - 1; i >= 0; i-- {
		t, ok := d.got[i].(*protocol.CallTrying)
		switch {
		case !ok:
		case latest == "":
			latest = t.CallID
		case t.CallID != latest:
			return latest, t.CallID
		}
	}
	return latest, previous
}

// earliest is the sooner of budget and d from now.
func earliest(budget time.Time, d time.Duration) time.Time {
	if t := time.Now().Add(d); t.Before(budget) {
		return t
	}
	return budget
}

// waitTrying waits a little for d's next call.trying after latest.
func waitTrying(d *fakeDevice, latest string, budget time.Time) {
	for deadline := earliest(budget, 100*time.Millisecond); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if now, _ := d.calls(); now != latest {
			return
		}
	}
}

// waitIncoming waits a little for d to be offered call id.
func waitIncoming(d *fakeDevice, id string, budget time.Time) {
	rang := func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, g := range d.got {
			if in, ok := g.(*protocol.CallIncoming); ok && in.CallID == id {
				return true
			}
		}
		return false
	}
	for deadline := earliest(budget, 100*time.Millisecond); !rang() && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
	}
}

// quiet waits a little until no device has been sent anything for 20 ms.
func quiet(devs []*fakeDevice, budget time.Time) {
	count := func() (n int) {
		for _, d := range devs {
			d.mu.Lock()
			n += len(d.got)
			d.mu.Unlock()
		}
		return n
	}
	last, since := count(), time.Now()
	for deadline := earliest(budget, 200*time.Millisecond); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if n := count(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) > 10*time.Millisecond {
			return
		}
	}
}

// participant is the last participant id device 0 was told of.
func (d *fakeDevice) participant() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := len(d.got) - 1; i >= 0; i-- {
		if u, ok := d.got[i].(*protocol.ConferenceUpdated); ok && len(u.Participants) > 0 {
			return u.Participants[len(u.Participants)-1].ParticipantID
		}
	}
	return "leg_none"
}

// FuzzConference is FuzzDispatch for conferences: "$" stands for the
// latest call id device 0 placed, "^" for the one before, "%" for the
// last participant id it was told of. Nothing may panic and every call
// (added ones too) must stop.
func FuzzConference(f *testing.F) {
	two := "0{\"type\":\"call.create\",\"destination\":\"102\",\"sdp\":\"v\"}\n1{\"type\":\"call.answer\",\"call_id\":\"$\"}\n1{\"type\":\"sdp.answer\",\"call_id\":\"$\",\"sdp\":\"v\"}\n" +
		"0{\"type\":\"call.hold\",\"call_id\":\"$\"}\n0{\"type\":\"call.create\",\"destination\":\"104\",\"sdp\":\"v\"}\n3{\"type\":\"call.answer\",\"call_id\":\"$\"}\n3{\"type\":\"sdp.answer\",\"call_id\":\"$\",\"sdp\":\"v\"}\n" +
		"0{\"type\":\"call.merge\",\"call_id\":\"^\",\"with_call_id\":\"$\"}\n"
	for _, s := range []string{
		two + "0{\"type\":\"call.participant.mute\",\"call_id\":\"^\",\"participant_id\":\"%\",\"muted\":true}\n0{\"type\":\"call.participant.remove\",\"call_id\":\"^\",\"participant_id\":\"%\"}",
		two + "0{\"type\":\"call.hangup\",\"call_id\":\"^\"}\n1{\"type\":\"call.hold\",\"call_id\":\"^\"}\n3{\"type\":\"call.hangup\",\"call_id\":\"$\"}",
		two + "0{\"type\":\"call.add\",\"call_id\":\"^\",\"destination\":\"102\"}\n2{\"type\":\"call.answer\",\"call_id\":\"$\"}\n0{\"type\":\"call.hangup\",\"call_id\":\"^\"}",
		"0{\"type\":\"call.create\",\"destination\":\"102\",\"sdp\":\"v\"}\n1{\"type\":\"call.answer\",\"call_id\":\"$\"}\n1{\"type\":\"sdp.answer\",\"call_id\":\"$\",\"sdp\":\"v\"}\n0{\"type\":\"call.add\",\"call_id\":\"$\",\"destination\":\"104\"}\n0{\"type\":\"call.merge\",\"call_id\":\"$\",\"with_call_id\":\"$\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		devs := []*fakeDevice{{id: "sess_0", user: "user_a"}, {id: "sess_1", user: "user_b"}, {id: "sess_2", user: "user_b"},
			{id: "sess_3", user: "user_d"}}
		m := call.NewManager(fakeFactory{}, fakeDir{}, fakeDevices{devs}, fakeRecords{},
			call.Options{RingTimeout: time.Second, Conference: call.ConferenceOptions{MaxParticipants: 4}},
			slog.New(slog.NewTextHandler(io.Discard, nil)))
		budget := time.Now().Add(150 * time.Millisecond) // for all the waits of one input (minimising re-runs it often)
		for i, line := range bytes.Split(data, []byte("\n")) {
			if i > 40 || len(line) < 2 {
				continue
			}
			latest, previous := devs[0].calls()
			frame := bytes.ReplaceAll(line[1:], []byte("$"), []byte(latest))
			frame = bytes.ReplaceAll(frame, []byte("^"), []byte(previous))
			frame = bytes.ReplaceAll(frame, []byte("%"), []byte(devs[0].participant()))
			msg, err := protocol.DecodeClient(frame)
			if err != nil {
				continue
			}
			dev := devs[int(line[0])%len(devs)]
			if a, ok := msg.(*protocol.CallAnswer); ok {
				waitIncoming(dev, a.CallID, budget) // ringing is async: answer what rings
			}
			Handle(m, dev, msg)
			switch msg.(type) {
			case *protocol.CallCreate:
				if dev == devs[0] {
					waitTrying(devs[0], latest, budget) // "$" names the new call from the next line on
				}
			case *protocol.CallMerge, *protocol.CallAdd:
				quiet(devs, budget) // "%" names a participant from the next line on
			}
		}
		quiet(devs, budget)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := m.Shutdown(ctx); err != nil {
			t.Fatalf("calls did not stop: %v", err)
		}
	})
}
