package callwire

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// Fakes for driving the manager without sockets or media.

type fakeDevice struct {
	id       ident.SessionID
	user     ident.UserID
	features []string // authenticate.features of its socket
	mu       sync.Mutex
	got      []protocol.Message
}

func (d *fakeDevice) HasFeature(f string) bool { return slices.Contains(d.features, f) }

func (d *fakeDevice) SessionID() ident.SessionID { return d.id }
func (d *fakeDevice) User() ident.UserID         { return d.user }
func (d *fakeDevice) Account() ident.AccountID   { return "acct_a" }
func (d *fakeDevice) Send(m protocol.Message) {
	d.mu.Lock()
	d.got = append(d.got, m)
	d.mu.Unlock()
}

type fakeDevices struct{ devs []*fakeDevice }

func (f fakeDevices) UserDevices(u ident.UserID) []call.Device {
	var out []call.Device
	for _, d := range f.devs {
		if d.user == u {
			out = append(out, Device{S: d})
		}
	}
	return out
}

type fakeMedia struct{}

func (fakeMedia) Stats() call.MediaStats { return call.MediaStats{} }
func (fakeMedia) Close() error           { return nil }
func (fakeMedia) AnswerOffer(_ context.Context, offer string) (string, error) {
	if offer == "bad" {
		return "", errors.New("bad sdp")
	}
	return "v=0 answer", nil
}
func (fakeMedia) CreateOffer(context.Context) (string, error) { return "v=0 offer", nil }
func (fakeMedia) SetAnswer(a string) error {
	if a == "bad" {
		return errors.New("bad sdp")
	}
	return nil
}
func (fakeMedia) Reoffer(context.Context, string) (string, error) { return "v=0 answer", nil }
func (fakeMedia) AddCandidate(c string, _ *string, _ *uint16) error {
	if c == "bad" {
		return errors.New("bad candidate")
	}
	return nil
}

type fakeBridge struct{}

func (fakeBridge) SetFeeds(call.Feed, call.Feed)             {}
func (fakeBridge) Stop()                                     {}
func (fakeBridge) SendDigit(bool, rune, time.Duration) error { return nil }

type fakeFactory struct{}

func (fakeFactory) NewWebRTC(ident.LegID) (call.WebRTCMedia, error) { return fakeMedia{}, nil }
func (fakeFactory) NewRTP(ident.LegID) (call.LegMedia, error)       { return fakeMedia{}, nil }
func (fakeFactory) Bridge(call.MediaLeg, call.MediaLeg) (call.Bridge, error) {
	return fakeBridge{}, nil
}
func (fakeFactory) Play(call.MediaLeg, call.Feed) (call.Stopper, error) { return fakeBridge{}, nil }
func (fakeFactory) Echo(call.MediaLeg) (call.Stopper, error)            { return fakeBridge{}, nil }

type fakeDir struct{}

var users = map[string]*store.User{
	"101": {ID: "user_a", AccountID: "acct_a", Extension: "101", Name: "A"},
	"102": {ID: "user_b", AccountID: "acct_a", Extension: "102", Name: "B", RingTimeoutSeconds: 1},
	"103": {ID: "user_c", AccountID: "acct_a", Extension: "103", Name: "C", DoNotDisturb: true},
	"104": {ID: "user_d", AccountID: "acct_a", Extension: "104", Name: "D", RingTimeoutSeconds: 1},
}

func (fakeDir) GetUser(_ context.Context, id ident.UserID) (*store.User, error) {
	for _, u := range users {
		if u.ID == id {
			return u, nil
		}
	}
	return nil, store.ErrNotFound
}
func (fakeDir) GetUserByExtension(_ context.Context, _ ident.AccountID, ext string) (*store.User, error) {
	if u, ok := users[ext]; ok {
		return u, nil
	}
	return nil, store.ErrNotFound
}
func (fakeDir) GetPhoneNumberByNumber(context.Context, string) (*store.PhoneNumber, error) {
	return nil, store.ErrNotFound
}
func (fakeDir) GetRingGroup(context.Context, ident.RingGroupID) (*store.RingGroup, error) {
	return nil, store.ErrNotFound
}
func (fakeDir) GetRingGroupByExtension(context.Context, ident.AccountID, string) (*store.RingGroup, error) {
	return nil, store.ErrNotFound
}
func (fakeDir) GetDialPlan(_ context.Context, acct ident.AccountID) (*store.DialPlan, error) {
	return store.DefaultDialPlan(acct), nil
}
func (fakeDir) GetFollowMe(context.Context, ident.UserID) (*store.FollowMe, error) {
	return nil, store.ErrNotFound
}

type fakeRecords struct{}

func (fakeRecords) CreateCallRecord(context.Context, *store.CallRecord) error { return nil }
func (fakeRecords) UpdateCallRecord(context.Context, *store.CallRecord) error { return nil }
func (fakeRecords) GetCallRecord(context.Context, ident.CallID) (*store.CallRecord, error) {
	return nil, store.ErrNotFound
}
func (fakeRecords) ListCallRecords(context.Context, store.CallFilter) ([]store.CallRecord, bool, error) {
	return nil, false, nil
}
func (fakeRecords) CloseOpenCallRecords(context.Context, string, time.Time) (int, error) {
	return 0, nil
}

// lastCall is the id of the latest call the device placed.
func (d *fakeDevice) lastCall() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := len(d.got) - 1; i >= 0; i-- {
		if t, ok := d.got[i].(*protocol.CallTrying); ok {
			return t.CallID
		}
	}
	return ""
}

// FuzzDispatch feeds frames from three devices (one per line, the first
// byte picking the device; "$" stands for the latest call id the first
// placed) through the translation to a real manager and requires that
// nothing panics and every call stops.
func FuzzDispatch(f *testing.F) {
	for _, s := range []string{
		"0{\"type\":\"call.create\",\"destination\":\"102\",\"sdp\":\"v=0\"}\n1{\"type\":\"call.answer\",\"call_id\":\"$\"}\n1{\"type\":\"sdp.answer\",\"call_id\":\"$\",\"sdp\":\"v\"}\n0{\"type\":\"call.hold\",\"call_id\":\"$\"}\n1{\"type\":\"call.resume\",\"call_id\":\"$\"}\n0{\"type\":\"call.hangup\",\"call_id\":\"$\"}",
		"0{\"type\":\"call.create\",\"destination\":\"102\",\"sdp\":\"bad\"}",
		"0{\"type\":\"call.create\",\"destination\":\"102\",\"sdp\":\"v\"}\n1{\"type\":\"call.reject\",\"call_id\":\"$\",\"reason\":\"busy\"}\n2{\"type\":\"call.reject\",\"call_id\":\"$\"}",
		"0{\"type\":\"call.create\",\"destination\":\"102\",\"sdp\":\"v\"}\n2{\"type\":\"call.answer\",\"call_id\":\"$\"}\n1{\"type\":\"call.answer\",\"call_id\":\"$\"}\n2{\"type\":\"sdp.answer\",\"call_id\":\"$\",\"sdp\":\"bad\"}",
		"1{\"type\":\"ice.candidate\",\"call_id\":\"$\",\"candidate\":\"bad\"}\n0{\"type\":\"call.mute\",\"call_id\":\"x\"}",
		"0{\"type\":\"call.create\",\"destination\":\"102\",\"sdp\":\"v\"}\n1{\"type\":\"call.answer\",\"call_id\":\"$\"}\n1{\"type\":\"sdp.answer\",\"call_id\":\"$\",\"sdp\":\"v\"}\n0{\"type\":\"call.transfer\",\"call_id\":\"$\",\"destination\":\"104\"}\n3{\"type\":\"call.answer\",\"call_id\":\"$\"}\n3{\"type\":\"sdp.answer\",\"call_id\":\"$\",\"sdp\":\"v\"}",
		"0{\"type\":\"call.create\",\"destination\":\"102\",\"sdp\":\"v\"}\n1{\"type\":\"call.answer\",\"call_id\":\"$\"}\n1{\"type\":\"sdp.answer\",\"call_id\":\"$\",\"sdp\":\"v\"}\n0{\"type\":\"call.transfer.attended\",\"call_id\":\"$\",\"step\":\"consult\",\"destination\":\"104\",\"sdp\":\"v\"}\n3{\"type\":\"call.answer\",\"call_id\":\"$\"}\n3{\"type\":\"sdp.answer\",\"call_id\":\"$\",\"sdp\":\"v\"}\n0{\"type\":\"call.transfer.attended\",\"call_id\":\"$\",\"step\":\"complete\"}\n0{\"type\":\"call.hangup\",\"call_id\":\"$\"}",
		"0{\"type\":\"call.create\",\"destination\":\"*43\",\"sdp\":\"v\"}\n0{\"type\":\"call.hold\",\"call_id\":\"$\"}\n0{\"type\":\"call.transfer\",\"call_id\":\"$\",\"destination\":\"104\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		devs := []*fakeDevice{{id: "sess_0", user: "user_a"}, {id: "sess_1", user: "user_b"}, {id: "sess_2", user: "user_b"},
			{id: "sess_3", user: "user_d"}}
		m := call.NewManager(fakeFactory{}, fakeDir{}, fakeDevices{devs}, fakeRecords{},
			call.Options{RingTimeout: time.Second}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		last := "call_none"
		for i, line := range bytes.Split(data, []byte("\n")) {
			if i > 40 || len(line) < 2 {
				continue
			}
			dev := devs[int(line[0])%len(devs)]
			frame := bytes.ReplaceAll(line[1:], []byte("$"), []byte(last))
			msg, err := protocol.DecodeClient(frame)
			if err != nil {
				continue
			}
			Handle(m, dev, msg)
			if id := devs[0].lastCall(); id != "" {
				last = id
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := m.Shutdown(ctx); err != nil {
			t.Fatalf("calls did not stop: %v", err)
		}
	})
}
