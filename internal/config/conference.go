package config

import "fmt"

// Conference configures merged (three-way and larger) calls.
type Conference struct {
	// MaxParticipants bounds the parties of one conference, host included.
	MaxParticipants int `yaml:"max_participants"`
	// HostLeaves says what happens when the user who merged the calls
	// hangs up: "stay" (the others go on talking) or "end" (the
	// conference ends for everyone).
	HostLeaves string `yaml:"host_leaves"`
}

// Host-leaves policies.
const (
	HostLeavesStay = "stay"
	HostLeavesEnd  = "end"
)

func defaultConference() Conference {
	return Conference{MaxParticipants: 10, HostLeaves: HostLeavesStay}
}

func (c Conference) validate() []error {
	var errs []error
	if c.MaxParticipants < 3 || c.MaxParticipants > 100 {
		errs = append(errs, fmt.Errorf("conference.max_participants %d: want 3 to 100", c.MaxParticipants))
	}
	if c.HostLeaves != HostLeavesStay && c.HostLeaves != HostLeavesEnd {
		errs = append(errs, fmt.Errorf("conference.host_leaves %q: want stay or end", c.HostLeaves))
	}
	return errs
}
