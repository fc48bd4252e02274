package call

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// watchedMedia is fake media that hands its death report to the test.
type watchedMedia struct {
	fakeMedia
	id      ident.LegID
	watches chan<- watch
}

type watch struct {
	leg    ident.LegID
	onDead func(string, time.Duration)
}

func (w watchedMedia) Watch(onDead func(string, time.Duration)) { w.watches <- watch{w.id, onDead} }

type watchFactory struct {
	fakeFactory
	watches chan<- watch
}

func (f watchFactory) NewWebRTC(id ident.LegID) (WebRTCMedia, error) {
	return watchedMedia{id: id, watches: f.watches}, nil
}

func nextWatch(t *testing.T, watches <-chan watch) watch {
	t.Helper()
	select {
	case w := <-watches:
		return w
	case <-time.After(5 * time.Second):
		t.Fatal("no leg's media was watched")
		return watch{}
	}
}

// received polls d for a message of type typ.
func received(t *testing.T, d *fakeDevice, typ protocol.Type) protocol.Message {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		d.mu.Lock()
		for _, m := range d.got {
			if m.MessageType() == typ {
				d.mu.Unlock()
				return m
			}
		}
		d.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: no %s", d.id, typ)
	return nil
}

func ended(t *testing.T, d *fakeDevice) protocol.EndReason {
	t.Helper()
	return received(t, d, protocol.TypeCallEnded).(*protocol.CallEnded).Reason
}

func callID(t *testing.T, m *Manager) ident.CallID {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if live := m.snapshot(); len(live) > 0 {
			return live[0].id
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no call")
	return ""
}

func TestDeadMediaEndsCallFailed(t *testing.T) {
	for _, tt := range []struct {
		name string
		echo bool
		dies int // which watched leg reports dead: 0 the first watched
	}{
		{"echo test whose media never came up", true, 0},
		{"caller's media died", false, 0},
		{"callee's media died", false, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			watches := make(chan watch, 4)
			caller, callee := &fakeDevice{id: "sess_0", user: "user_a"}, &fakeDevice{id: "sess_1", user: "user_b"}
			m := NewManager(watchFactory{watches: watches}, fakeDir{}, fakeDevices{[]*fakeDevice{caller, callee}},
				fakeRecords{}, Options{RingTimeout: time.Minute}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				require.NoError(t, m.Shutdown(ctx))
			}()
			dest := "102"
			if tt.echo {
				dest = "*43"
			}
			m.Handle(caller, &protocol.CallCreate{Destination: dest, SDP: "v=0"})
			id := callID(t, m)
			var got []watch
			if tt.echo {
				got = append(got, nextWatch(t, watches))
			} else {
				received(t, callee, protocol.TypeCallIncoming)
				m.Handle(callee, &protocol.CallAnswer{CallID: string(id)})
				m.Handle(callee, &protocol.SDPAnswer{CallID: string(id), SDP: "v=0"})
				got = append(got, nextWatch(t, watches), nextWatch(t, watches))
				require.NotEqual(t, got[0].leg, got[1].leg, "both legs are watched")
			}
			dead := got[tt.dies]
			dead.onDead("no media", 2*time.Second)
			require.Equal(t, protocol.EndFailed, ended(t, caller))
			if !tt.echo {
				require.Equal(t, protocol.EndFailed, ended(t, callee))
			}
			require.Eventually(t, func() bool { return m.Count() == 0 }, 5*time.Second, 10*time.Millisecond)
			dead.onDead("ice failed", 0) // a late report from an ended call is dropped
		})
	}
}
