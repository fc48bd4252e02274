package server

import (
	"fmt"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/media"
)

var _ call.MixingMedia = mediaAdapter{}

// Mixer starts a conference mix for the call core.
func (a mediaAdapter) Mixer() (call.Mixer, error) {
	return mixer{a.engine.NewMixer(), a.prompts}, nil
}

// mixer maps the call core's legs onto media endpoints.
type mixer struct {
	m       *media.Mixer
	prompts string // the recording announcements' directory
}

// The media mixer is what the call core records a conference through.
var (
	_ call.TappedMixer  = mixer{}
	_ call.PromptPlayer = mixer{}
)

func endpointOf(l call.MediaLeg) (media.Endpoint, error) {
	el, ok := l.(endpointLeg)
	if !ok {
		return nil, fmt.Errorf("media: cannot mix %T", l)
	}
	return el.endpoint(), nil
}

func (x mixer) Add(l call.MediaLeg) error {
	ep, err := endpointOf(l)
	if err != nil {
		return err
	}
	return x.m.Add(ep)
}

func (x mixer) Remove(l call.MediaLeg) {
	if ep, err := endpointOf(l); err == nil {
		x.m.Remove(ep)
	}
}

func (x mixer) SetMuted(l call.MediaLeg, on bool) {
	if ep, err := endpointOf(l); err == nil {
		x.m.SetMuted(ep, on)
	}
}

func (x mixer) SetHeld(l call.MediaLeg, on bool) {
	if ep, err := endpointOf(l); err == nil {
		x.m.SetHeld(ep, on)
	}
}

func (x mixer) Stop() { x.m.Close() }

// SetTap taps the mix for a recording: first's voice and what it hears.
func (x mixer) SetTap(first call.MediaLeg, tap func(fromA bool, pcm []int16)) {
	var ep media.Endpoint
	if first != nil {
		ep, _ = endpointOf(first) // an unknown leg taps no voice of its own
	}
	x.m.SetTap(ep, tap)
}

// Beep mixes the recording beep into what every participant hears.
func (x mixer) Beep() { x.m.Beep() }

// PlayPrompt mixes the WAV file name from the prompts directory into what
// every participant hears.
func (x mixer) PlayPrompt(name string) error {
	pcm, err := loadPrompt(x.prompts, name)
	if err != nil {
		return err
	}
	x.m.Announce(pcm)
	return nil
}

// conferenceOptions is the call core's view of conference.*.
func conferenceOptions(c config.Conference) call.ConferenceOptions {
	return call.ConferenceOptions{MaxParticipants: c.MaxParticipants, HostEnds: c.HostLeaves == config.HostLeavesEnd}
}
