package server

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
	"unicode/utf8"
)

// maxUserIDLen bounds the user id in a location lookup.
const maxUserIDLen = 200

// clusterHandlers adds the admin cluster endpoints: GET /v1/cluster/nodes
// and GET /v1/cluster/locations/{user_id}. Without cluster mode they
// answer 404 cluster_disabled.
func (s *Server) clusterHandlers(mux *http.ServeMux) {
	mux.Handle("GET /v1/cluster/nodes", s.adminOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.clusterOn(w) {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		nodes, err := s.cluster.clusterNodes(ctx)
		if err != nil {
			clusterErr(w, http.StatusServiceUnavailable, "cluster_unavailable", "cluster: "+err.Error(), nil)
			return
		}
		writeList(w, nodes)
	})))
	mux.Handle("GET /v1/cluster/locations/{user_id}", s.adminOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.clusterOn(w) {
			return
		}
		user := r.PathValue("user_id")
		if len(user) > maxUserIDLen || !utf8.ValidString(user) {
			clusterErr(w, http.StatusBadRequest, "invalid_request", "user_id: at most 200 bytes of UTF-8",
				map[string]any{"field": "user_id"})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		locs, err := s.cluster.locations(ctx, user)
		if err != nil {
			clusterErr(w, http.StatusServiceUnavailable, "cluster_unavailable", err.Error(), nil)
			return
		}
		writeList(w, locs)
	})))
}

func (s *Server) clusterOn(w http.ResponseWriter) bool {
	if s.cluster == nil || s.cluster.node == nil {
		clusterErr(w, http.StatusNotFound, "cluster_disabled", "this server is not in a cluster (cluster.nats_url is empty)", nil)
		return false
	}
	return true
}

func writeList[T any](w http.ResponseWriter, data []T) {
	if data == nil {
		data = []T{}
	}
	writeBody(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

func clusterErr(w http.ResponseWriter, status int, code, msg string, details map[string]any) {
	body := map[string]any{"error": msg, "code": code}
	if details != nil {
		body["details"] = details
	}
	writeBody(w, status, body)
}

func writeBody(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
