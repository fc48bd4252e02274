package server

import "github.com/switchboard-voice/switchboard/internal/api"

// liveCalls gives the REST API the call core's live calls
// (GET /v1/calls?status=active, the supervisor actions) and, in cluster
// mode, this node's id to show on them. Each node lists the calls it owns.
func (s *Server) liveCalls(a *api.API) {
	a.Live = s.Calls
	if s.Config.Cluster.Enabled() {
		a.NodeID = s.Config.Cluster.Node()
	}
}
