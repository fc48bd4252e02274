package ident

import "strings"

// callRandomLen is the length of an id's random part (see random).
const callRandomLen = 16

// NewCallIDOn returns a fresh call id owned by cluster node node:
// "call_<node>-<random>", so that any node can tell where the call runs
// from its id alone. An empty node gives the plain form (NewCallID).
func NewCallIDOn(node string) CallID {
	if node == "" {
		return NewCallID()
	}
	return CallID(random("call_" + node + "-"))
}

// Node is the cluster node that owns the call ("" for a plain id, or one
// that is not a call id). The random part never holds "-", so the last
// "-" ends the node id (which may hold "-" itself).
func (id CallID) Node() string {
	s, ok := strings.CutPrefix(string(id), "call_")
	if !ok {
		return ""
	}
	i := strings.LastIndexByte(s, '-')
	if i <= 0 || len(s)-i-1 != callRandomLen {
		return ""
	}
	return s[:i]
}
