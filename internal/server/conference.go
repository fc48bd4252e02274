package server

import (
	"fmt"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/media"
)

var _ call.MixingMedia = mediaAdapter{}

// Mixer starts a conference mix for the call core.
func (a mediaAdapter) Mixer() (call.Mixer, error) { return mixer{a.engine.NewMixer()}, nil }

// mixer maps the call core's legs onto media endpoints.
type mixer struct{ m *media.Mixer }

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

// conferenceOptions is the call core's view of conference.*.
func conferenceOptions(c config.Conference) call.ConferenceOptions {
	return call.ConferenceOptions{MaxParticipants: c.MaxParticipants, HostEnds: c.HostLeaves == config.HostLeavesEnd}
}
