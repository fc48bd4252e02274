package server

import (
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/callwire"
	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/media"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/signal"
)

// callHandler connects the signalling hub to the call manager and, in a
// cluster, to the calls other nodes own (relay; nil on a single node).
type callHandler struct {
	m     *call.Manager
	relay *callRelay
}

func (h callHandler) HandleMessage(s *signal.Session, msg protocol.Message) {
	if h.relay != nil && h.relay.forward(s, msg) {
		return
	}
	callwire.Handle(h.m, s, msg)
}

func (h callHandler) SessionRestored(s *signal.Session) { h.restoreHere(s) }

func (h callHandler) SessionEnded(s *signal.Session) {
	h.m.DeviceGone(callwire.Device{S: s})
	if h.relay != nil {
		h.relay.sessionEnded(s)
	}
}

func (h callHandler) HasLiveCalls(s *signal.Session) bool {
	return h.m.HasLiveCalls(s.ID) || h.relay != nil && h.relay.hasCalls(s)
}

// hubDevices lists a user's connected sessions as call devices.
type hubDevices struct{ hub *signal.Hub }

func (d hubDevices) UserDevices(user ident.UserID) []call.Device {
	var out []call.Device
	for _, s := range d.hub.UserSessions(user) {
		if s.Connected() {
			out = append(out, callwire.Device{S: s})
		}
	}
	return out
}

// mediaAdapter gives the call core media endpoints without pion types.
type mediaAdapter struct {
	engine  *media.Engine
	cfg     config.Media
	rtpIP   net.IP // where SIP parties send RTP
	log     *slog.Logger
	bridges *bridgeSet // live bridges, for metrics
	prompts string     // the directory of recording announcements (recordings.go)
}

// bridgeSet holds the live bridges.
type bridgeSet struct {
	mu sync.Mutex
	m  map[*media.Bridge]struct{}
}

func newBridgeSet() *bridgeSet { return &bridgeSet{m: map[*media.Bridge]struct{}{}} }

// transcoding counts the live bridges that transcode.
func (s *bridgeSet) transcoding() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for b := range s.m {
		if b.Transcoding() {
			n++
		}
	}
	return n
}

type rtpLeg struct{ *media.RTPEndpoint }

func (l rtpLeg) endpoint() media.Endpoint { return l.RTPEndpoint }

func (l rtpLeg) Stats() call.MediaStats { return mediaStats(l.RTPEndpoint.Stats()) }

func mediaStats(s media.Stats) call.MediaStats {
	return call.MediaStats{Codec: s.Codec, PacketsSent: s.PacketsSent, PacketsReceived: s.PacketsReceived,
		PacketsLost: s.PacketsLost, JitterMillis: s.JitterMillis, BytesSent: s.BytesSent, BytesReceived: s.BytesReceived,
		RTTMillis: s.RTTMillis, LossRuns: s.LossRuns, RemoteReports: s.Remote.Reports,
		RemoteLossPct: s.Remote.LossPct, RemoteJitterMillis: s.Remote.JitterMillis}
}

func (a mediaAdapter) NewRTP(id ident.LegID) (call.LegMedia, error) {
	ep, err := media.NewRTP(string(id), a.rtpIP, a.cfg.PortMin, a.cfg.PortMax, a.log)
	if err != nil {
		return nil, err
	}
	return rtpLeg{ep}, nil
}

type endpointLeg interface{ endpoint() media.Endpoint }

type webrtcLeg struct{ *media.WebRTCEndpoint }

func (l webrtcLeg) endpoint() media.Endpoint { return l.WebRTCEndpoint }

func (l webrtcLeg) Stats() call.MediaStats { return mediaStats(l.WebRTCEndpoint.Stats()) }

func (a mediaAdapter) NewWebRTC(id ident.LegID) (call.WebRTCMedia, error) {
	ep, err := a.engine.NewWebRTC(string(id))
	if err != nil {
		return nil, err
	}
	return webrtcLeg{ep}, nil
}

func (a mediaAdapter) Bridge(x, y call.MediaLeg) (call.Bridge, error) {
	ex, ok1 := x.(endpointLeg)
	ey, ok2 := y.(endpointLeg)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("media: cannot bridge %T and %T", x, y)
	}
	b := a.engine.NewBridge(ex.endpoint(), ey.endpoint())
	a.bridges.mu.Lock()
	a.bridges.m[b] = struct{}{}
	a.bridges.mu.Unlock()
	return bridge{b, a.bridges, a.prompts}, nil
}

// bridge maps the call core's feeds onto media modes.
type bridge struct {
	*media.Bridge
	set     *bridgeSet
	prompts string
}

// Stop ends the bridge and forgets it.
func (b bridge) Stop() {
	b.Bridge.Stop()
	b.set.mu.Lock()
	delete(b.set.m, b.Bridge)
	b.set.mu.Unlock()
}

var feedModes = map[call.Feed]media.Mode{
	call.FeedForward: media.Forward, call.FeedSilence: media.Silence, call.FeedMusic: media.Music,
}

func (b bridge) SetFeeds(toA, toB call.Feed) { b.SetModes(feedModes[toA], feedModes[toB]) }

func (a mediaAdapter) Play(l call.MediaLeg, f call.Feed) (call.Stopper, error) {
	el, ok := l.(endpointLeg)
	if !ok {
		return nil, fmt.Errorf("media: cannot play to %T", l)
	}
	src := a.engine.Music()
	if f == call.FeedRingback {
		src = audio.NewRingback(8000)
	}
	return media.NewPlayer(el.endpoint(), src, a.log), nil
}

func (a mediaAdapter) Echo(l call.MediaLeg) (call.Stopper, error) {
	el, ok := l.(endpointLeg)
	if !ok {
		return nil, fmt.Errorf("media: cannot echo %T", l)
	}
	return media.NewEcho(el.endpoint(), a.log), nil
}
