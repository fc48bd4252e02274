package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/route"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// Limits of find-me/follow-me and ring groups.
const (
	maxFollowMeSteps   = 10
	maxStepTargets     = 10
	minRingSeconds     = 5
	maxRingSeconds     = 300
	defaultStepSeconds = 20
	// TargetDevices is the follow-me target for the user's own browsers
	// and desk phones.
	TargetDevices = "devices"
)

type followMeJSON struct {
	Object       string               `json:"object"`
	UserID       string               `json:"user_id"`
	Steps        []store.FollowMeStep `json:"steps"`
	FinalForward string               `json:"final_forward"`
	UpdatedAt    string               `json:"updated_at"`
}

func followMeView(f *store.FollowMe) followMeJSON {
	steps := f.Steps
	if steps == nil {
		steps = []store.FollowMeStep{}
	}
	return followMeJSON{Object: "follow_me", UserID: string(f.UserID), Steps: steps,
		FinalForward: f.FinalForward, UpdatedAt: rfc3339(f.UpdatedAt)}
}

// followMeInput is the body of PUT /v1/users/{id}/follow_me; it replaces
// the whole follow-me.
type followMeInput struct {
	Steps []struct {
		Targets     []string `json:"targets"`
		RingSeconds *int     `json:"ring_seconds"`
	} `json:"steps"`
	FinalForward string `json:"final_forward"`
}

// CheckFollowMe validates f: 1 to 10 steps of 1 to 10 targets ("devices",
// an extension or a phone number), each ringing 5 to 300 seconds, and a
// final forward that is empty or a destination. Errors are *Error with a
// stable code.
func CheckFollowMe(f *store.FollowMe) error {
	if len(f.Steps) == 0 || len(f.Steps) > maxFollowMeSteps {
		return badField("steps", "invalid_steps", "steps: want 1 to %d steps", maxFollowMeSteps)
	}
	for i, st := range f.Steps {
		field := fmt.Sprintf("steps[%d]", i)
		if len(st.Targets) == 0 || len(st.Targets) > maxStepTargets {
			return badField(field+".targets", "invalid_targets", "%s: want 1 to %d targets", field, maxStepTargets)
		}
		for j, t := range st.Targets {
			if !validTarget(t) {
				return badField(fmt.Sprintf("%s.targets[%d]", field, j), "invalid_target",
					`%s: target %q: want "devices", an extension (2 to 8 digits) or a phone number (E.164, or national digits)`, field, t)
			}
			if slices.Index(st.Targets, t) != j {
				return badField(fmt.Sprintf("%s.targets[%d]", field, j), "invalid_target",
					"%s: target %q is listed twice", field, t)
			}
		}
		if st.RingSeconds < minRingSeconds || st.RingSeconds > maxRingSeconds {
			return badField(field+".ring_seconds", "invalid_ring_seconds",
				"%s: ring_seconds must be %d to %d", field, minRingSeconds, maxRingSeconds)
		}
	}
	return checkForward("final_forward", "invalid_final_forward", f.FinalForward)
}

// validTarget reports whether t is a follow-me target: "devices", an
// extension, or a phone number (national ones are read with the dial
// plan's country when the call is placed).
func validTarget(t string) bool {
	if t == TargetDevices {
		return true
	}
	d, err := route.Parse(t)
	return err == nil && (d.Kind == route.KindExtension || d.Kind == route.KindNational || d.Kind == route.KindE164)
}

// checkForward accepts an empty forward or a destination the router parses.
func checkForward(field, code, dest string) error {
	if dest == "" {
		return nil
	}
	if _, err := route.Parse(dest); err != nil {
		return badField(field, code, "%s: %v", field, err)
	}
	return nil
}

// pathUser returns the user named by the path's {id}.
func (a *API) pathUser(r *http.Request) (*store.User, error) {
	u, err := a.Store.GetUser(r.Context(), ident.UserID(r.PathValue("id")))
	if err != nil {
		return nil, userNotFound(r, err)
	}
	return u, nil
}

func followMeNotFound(r *http.Request, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return apiErr(http.StatusNotFound, "follow_me_not_found", "user %q has no follow-me", r.PathValue("id"))
	}
	return err
}

func (a *API) getFollowMe(r *http.Request) (int, any, error) {
	u, err := a.pathUser(r)
	if err != nil {
		return 0, nil, err
	}
	f, err := a.Store.GetFollowMe(r.Context(), u.ID)
	if err != nil {
		return 0, nil, followMeNotFound(r, err)
	}
	return http.StatusOK, followMeView(f), nil
}

func (a *API) putFollowMe(r *http.Request) (int, any, error) {
	var in followMeInput
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	u, err := a.pathUser(r)
	if err != nil {
		return 0, nil, err
	}
	f := store.FollowMe{UserID: u.ID, FinalForward: in.FinalForward, Steps: make([]store.FollowMeStep, 0, len(in.Steps))}
	for _, st := range in.Steps {
		step := store.FollowMeStep{Targets: st.Targets, RingSeconds: defaultStepSeconds}
		if st.RingSeconds != nil {
			step.RingSeconds = *st.RingSeconds
		}
		f.Steps = append(f.Steps, step)
	}
	if err := CheckFollowMe(&f); err != nil {
		return 0, nil, err
	}
	if err := a.Store.PutFollowMe(r.Context(), &f); err != nil {
		return 0, nil, userNotFound(r, err)
	}
	return http.StatusOK, followMeView(&f), nil
}

func (a *API) deleteFollowMe(r *http.Request) (int, any, error) {
	u, err := a.pathUser(r)
	if err != nil {
		return 0, nil, err
	}
	if err := a.Store.DeleteFollowMe(r.Context(), u.ID); err != nil {
		return 0, nil, followMeNotFound(r, err)
	}
	return http.StatusOK, map[string]any{"object": "follow_me", "user_id": u.ID, "deleted": true}, nil
}
