package api

import (
	"context"
	"net/http"
	"time"
)

// System describes the running server for GET /v1/system.
type System struct {
	Version   string
	NodeID    string // empty outside cluster mode
	StartedAt time.Time
	Store     string // the store driver
	Cluster   bool
	// Counts on this node.
	LiveCalls, Sockets, Registrations int
	Problems                          []ConfigProblem
}

// ConfigProblem is something in the running config an administrator
// should fix.
type ConfigProblem struct {
	Code    string `json:"code"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

type systemJSON struct {
	Object         string          `json:"object"`
	Version        string          `json:"version"`
	NodeID         *string         `json:"node_id"`
	StartedAt      string          `json:"started_at"`
	UptimeS        int64           `json:"uptime_s"`
	Store          string          `json:"store"`
	Cluster        bool            `json:"cluster"`
	Counts         systemCounts    `json:"counts"`
	ConfigProblems []ConfigProblem `json:"config_problems"`
}

type systemCounts struct {
	LiveCalls     int `json:"live_calls"`
	Sockets       int `json:"sockets"`
	Registrations int `json:"registrations"`
}

// consoleRoutes are the endpoints the admin console reads beside the
// resources: a user's devices and the system summary.
func (a *API) consoleRoutes(handle func(string, map[string]handler)) {
	handle("/v1/users/{id}/devices", map[string]handler{"GET": a.admin(a.listUserDevices)})
	handle("/v1/system", map[string]handler{"GET": a.admin(a.getSystem)})
}

// getSystem is GET /v1/system (admin key only: see serverOnly).
func (a *API) getSystem(r *http.Request) (int, any, error) {
	var s System
	if a.System != nil {
		s = a.System(r.Context())
	}
	out := systemJSON{Object: "system", Version: s.Version, Store: s.Store, Cluster: s.Cluster,
		Counts:         systemCounts{LiveCalls: s.LiveCalls, Sockets: s.Sockets, Registrations: s.Registrations},
		ConfigProblems: s.Problems}
	if out.ConfigProblems == nil {
		out.ConfigProblems = []ConfigProblem{}
	}
	if s.NodeID != "" {
		out.NodeID = &s.NodeID
	}
	if !s.StartedAt.IsZero() {
		out.StartedAt = rfc3339(s.StartedAt)
		out.UptimeS = int64(a.now().Sub(s.StartedAt) / time.Second)
	}
	return http.StatusOK, out, nil
}

// SystemFunc reports the running server (GET /v1/system).
type SystemFunc func(ctx context.Context) System
