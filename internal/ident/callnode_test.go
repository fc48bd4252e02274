package ident

import "testing"

func TestCallIDNode(t *testing.T) {
	for _, tc := range []struct {
		id   CallID
		node string
	}{
		{NewCallIDOn("n1"), "n1"},
		{NewCallIDOn("node-2_a"), "node-2_a"},
		{NewCallIDOn(""), ""},
		{NewCallID(), ""},
		{"call_-abcdefghijklmnop", ""},
		{"call_n1-short", ""},
		{"user_n1-abcdefghijklmnop", ""},
		{"", ""},
	} {
		if got := tc.id.Node(); got != tc.node {
			t.Errorf("%q.Node() = %q, want %q", tc.id, got, tc.node)
		}
	}
	if id := NewCallIDOn("n1"); len(id) != len("call_n1-")+callRandomLen {
		t.Errorf("NewCallIDOn: %q", id)
	}
}
