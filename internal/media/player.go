package media

import (
	"log/slog"

	"github.com/switchboard-voice/switchboard/audio"
)

// Player plays a source to one endpoint on its continuous outbound stream,
// with no other leg involved: ringback while a transfer target rings.
type Player struct{ p *pipe }

// NewPlayer starts playing src (at the bridge rate, 8 kHz) to dst every
// 20 ms in dst's codec until Stop.
func NewPlayer(dst Endpoint, src audio.Source, log *slog.Logger) *Player {
	p := newPipe(dst, func() audio.Source { return src }, audio.DefaultEncoderOptions(), log)
	p.setMode(Music)
	return &Player{p: p}
}

// Stop ends the playing; it is idempotent.
func (pl *Player) Stop() { pl.p.setMode(Forward) }

// Echo sends an endpoint's audio and DTMF back to it: the echo test a
// caller reaches with a feature code.
type Echo struct{ ep Endpoint }

// NewEcho starts echoing ep's inbound media to it until Stop.
func NewEcho(ep Endpoint, log *slog.Logger) *Echo {
	p := newPipe(ep, nil, audio.DefaultEncoderOptions(), log)
	ep.SetSink(p.handle)
	return &Echo{ep: ep}
}

// Stop ends the echo; the endpoint stays open.
func (e *Echo) Stop() { e.ep.SetSink(nil) }
