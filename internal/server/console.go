package server

import (
	"context"
	"time"

	"github.com/switchboard-voice/switchboard/internal/api"
	"github.com/switchboard-voice/switchboard/internal/ident"
)

// consoleAPI gives the REST API what the admin console reads beside the
// resources: users' live devices on this node and the system summary.
func (s *Server) consoleAPI(a *api.API) {
	started := time.Now()
	a.Devices = serverDevices{s}
	a.System = func(context.Context) api.System {
		sys := api.System{Version: s.Version, StartedAt: started, Store: s.Config.Store.Driver,
			Cluster: s.Config.Cluster.Enabled(), LiveCalls: s.Calls.Count(), Sockets: s.Hub.ConnectedCount(),
			Registrations: s.SIP.Registrar.Count()}
		if sys.Version == "" {
			sys.Version = "dev"
		}
		if sys.Cluster {
			sys.NodeID = s.Config.Cluster.Node()
		}
		for _, p := range s.Config.Problems() {
			sys.Problems = append(sys.Problems, api.ConfigProblem{Code: p.Code, Field: p.Field, Message: p.Message})
		}
		return sys
	}
}

// serverDevices lists a user's device sessions and SIP registrations.
type serverDevices struct{ s *Server }

func (d serverDevices) UserDevices(_ context.Context, user ident.UserID) []api.Device {
	var out []api.Device
	for _, dv := range d.s.Hub.UserDevices(user) {
		src := ""
		if dv.Source.IsValid() {
			src = dv.Source.String()
		}
		out = append(out, api.Device{Kind: api.DeviceWebRTC, UserAgent: dv.UserAgent, Source: src,
			SessionID: dv.Session, ConnectedAt: dv.StartedAt, Connected: dv.Connected})
	}
	for _, c := range d.s.SIP.Registrar.Contacts(user) {
		out = append(out, api.Device{Kind: api.DeviceSIP, UserAgent: c.UserAgent, Source: c.Source,
			Contact: c.URI, Transport: c.Transport, ExpiresAt: c.Expires})
	}
	return out
}
