// Package media owns Switchboard's media plane: the pion WebRTC factory (one
// SettingEngine from config), the endpoints that terminate each leg's media
// on the server, and the bridge that joins two legs, passing codec frames
// through when both sides use the same codec and transcoding through PCM
// when they do not. Pion types do not leave this package.
package media

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/config"
)

// Payload types the server offers. Browsers may choose their own in offers.
const (
	ptOpus    = 111
	ptPCMU    = 0
	ptPCMA    = 8
	ptTE48000 = 110
	ptTE8000  = 101
)

// Engine builds WebRTC endpoints that share one configuration and, when
// configured, one UDP port.
type Engine struct {
	api   *webrtc.API
	mux   ice.UDPMux
	log   *slog.Logger
	music func() audio.Source
	// timeout is media.timeout, for the endpoints' watchdogs.
	timeout time.Duration
	encOpts audio.EncoderOptions
}

// NewEngine configures pion from cfg.
func NewEngine(cfg config.Media, log *slog.Logger) (*Engine, error) {
	return newTunedEngine(cfg, log, nil, registerInterceptors)
}

// registerInterceptors adds the one RTP interceptor a voice leg uses: RTCP
// sender and receiver reports, which browsers read for their statistics.
// pion's default set also answers and sends NACKs, sends transport-wide
// congestion control feedback, tags simulcast streams and keeps pion's own
// statistics: retransmission and bandwidth estimation are for video, and
// nothing here reads pion's statistics (a leg's figures come from its read
// loop), so each of those was a pass over every packet for nothing
// (BenchmarkWebRTCRelay measures the difference).
func registerInterceptors(_ *webrtc.MediaEngine, ir *interceptor.Registry) error {
	return webrtc.ConfigureRTCPReports(ir)
}

// newTunedEngine is NewEngine with a last word on pion's settings (tests
// shorten ICE's timeouts with it) and the interceptors to register.
func newTunedEngine(cfg config.Media, log *slog.Logger, tune func(*webrtc.SettingEngine),
	interceptors func(*webrtc.MediaEngine, *interceptor.Registry) error) (*Engine, error) {
	m := &webrtc.MediaEngine{}
	if err := registerCodecs(m); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := interceptors(m, ir); err != nil {
		return nil, err
	}
	var se webrtc.SettingEngine
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if cfg.IncludeLoopback {
		se.SetIncludeLoopbackCandidate(true)
		networks = networks[:1]
	}
	se.SetNetworkTypes(networks)
	if len(cfg.NAT1To1IPs) > 0 {
		// 1:1 NAT: announce the public addresses in place of local host ones.
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{External: cfg.NAT1To1IPs,
			AsCandidateType: webrtc.ICECandidateTypeHost, Mode: webrtc.ICEAddressRewriteReplace}); err != nil {
			return nil, fmt.Errorf("media: nat_1to1_ips: %w", err)
		}
	}
	e := &Engine{log: log, music: func() audio.Source { return audio.NewMusic(bridgeRate) },
		timeout: cfg.InactivityTimeout(), encOpts: audio.EncoderOptions{OpusComplexity: cfg.OpusComplexity}}
	if cfg.HoldMusic != "" {
		if _, err := audio.LoadWAV(cfg.HoldMusic, bridgeRate); err != nil {
			return nil, fmt.Errorf("media: hold_music: %w", err)
		}
		path := cfg.HoldMusic
		e.music = func() audio.Source {
			src, err := audio.LoadWAV(path, bridgeRate)
			if err != nil { // the file changed since start: fall back to the tune
				log.Warn("hold music unreadable", "path", path, "err", err)
				return audio.NewMusic(bridgeRate)
			}
			return src
		}
	}
	if cfg.UDPMuxPort != 0 {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{Port: cfg.UDPMuxPort})
		if err != nil {
			return nil, fmt.Errorf("media: udp mux port %d: %w", cfg.UDPMuxPort, err)
		}
		e.mux = webrtc.NewICEUDPMux(nil, conn)
		se.SetICEUDPMux(e.mux)
	} else if err := se.SetEphemeralUDPPortRange(cfg.PortMin, cfg.PortMax); err != nil {
		return nil, fmt.Errorf("media: port range: %w", err)
	}
	if tune != nil {
		tune(&se)
	}
	e.api = webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	return e, nil
}

// Music returns a fresh music-on-hold source at 8 kHz.
func (e *Engine) Music() audio.Source { return e.music() }

// NewBridge joins two endpoints with this engine's music on hold.
func (e *Engine) NewBridge(a, b Endpoint) *Bridge { return newBridge(a, b, e.music, e.encOpts, e.log) }

// Close releases the shared UDP port, if any.
func (e *Engine) Close() error {
	if e.mux != nil {
		return e.mux.Close() // closes the shared socket too
	}
	return nil
}

func registerCodecs(m *webrtc.MediaEngine) error {
	codecs := []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: ptOpus},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: ptPCMU},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}, PayloadType: ptPCMA},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeTelephoneEvent, ClockRate: 48000, SDPFmtpLine: "0-16"}, PayloadType: ptTE48000},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mimeTelephoneEvent, ClockRate: 8000, SDPFmtpLine: "0-16"}, PayloadType: ptTE8000},
	}
	for _, c := range codecs {
		if err := m.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return fmt.Errorf("media: register %s: %w", c.MimeType, err)
		}
	}
	return nil
}

const mimeTelephoneEvent = "audio/telephone-event"

func isTelephoneEvent(mime string) bool { return strings.EqualFold(mime, mimeTelephoneEvent) }
