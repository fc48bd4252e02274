package server

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/cluster"
)

func TestPlacedReqs(t *testing.T) {
	var p placedReqs
	require.Empty(t, p.owner("s1", "r1"))
	p.add("s1", "r1", "n2")
	p.add("s1", "r2", "n3")
	require.Equal(t, "n2", p.owner("s1", "r1"))
	require.Empty(t, p.owner("s2", "r1"), "per session")
	p.drop("s1", "r1")
	require.Empty(t, p.owner("s1", "r1"))
	require.Equal(t, "n3", p.owner("s1", "r2"))
	for i := range maxPlaced + 3 {
		p.add("s1", string(rune('a'+i)), "n2")
	}
	require.Len(t, p.sessions["s1"], maxPlaced, "a few per session, the oldest dropped")
	require.Empty(t, p.owner("s1", "r2"))
	p.drop("s1", "")
	require.Empty(t, p.sessions)
}

func TestPeerSIP(t *testing.T) {
	for _, tc := range []struct {
		room *cluster.NodeInfo
		want string
	}{
		{nil, ""},
		{&cluster.NodeInfo{Node: "n2", Load: cluster.Load{SIP: "127.0.0.1:5070"}}, "127.0.0.1:5070"},
		{&cluster.NodeInfo{Node: "n2", Load: cluster.Load{SIP: "sb2.example.com:5060"}}, "sb2.example.com:5060"},
		{&cluster.NodeInfo{Node: "n2", Load: cluster.Load{SIP: "0.0.0.0:5060"}}, ""},
		{&cluster.NodeInfo{Node: "n2", Load: cluster.Load{SIP: "[::]:5060"}}, ""},
		{&cluster.NodeInfo{Node: "n2"}, ""},
	} {
		var l clusterLink
		l.room.Store(tc.room)
		require.Equal(t, tc.want, l.peerSIP())
	}
}
