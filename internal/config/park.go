package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Park configures call park: the slots each account parks calls in and
// how long a call stays parked before the parker is rung back. Slots are
// held in memory, and in a cluster shared by every node (internal/park).
type Park struct {
	// Slots is the range of slot numbers, "first-last" (default
	// "701-720"); empty turns call park off. A slot number wins over a
	// user's extension of the same number.
	Slots string `yaml:"slots"`
	// Timeout is how long a call stays parked before the parker's devices
	// ring (default 2m).
	Timeout time.Duration `yaml:"timeout"`
}

func defaultPark() Park { return Park{Slots: "701-720", Timeout: 2 * time.Minute} }

// Range parses Slots; ok is false when park is off or Slots is malformed.
func (p Park) Range() (first, last int, ok bool) {
	a, b, found := strings.Cut(strings.TrimSpace(p.Slots), "-")
	if !found {
		return 0, 0, false
	}
	first, err1 := strconv.Atoi(strings.TrimSpace(a))
	last, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil || first < 1 || last < first || last-first >= 100 || last > 999999 {
		return 0, 0, false
	}
	return first, last, true
}

func (p Park) validate() []error {
	var errs []error
	if _, _, ok := p.Range(); p.Slots != "" && !ok {
		errs = append(errs, fmt.Errorf("park.slots %q: want \"first-last\", e.g. 701-720 (at most 100 slots)", p.Slots))
	}
	if p.Slots != "" && p.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("park.timeout: must be positive"))
	}
	return errs
}
