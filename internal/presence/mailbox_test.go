package presence

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMailbox(t *testing.T) {
	tests := []struct {
		name string
		put  []State
		max  int
		want []State
		left int
	}{
		{"latest wins per user, first changed first",
			[]State{{User: bob, Status: Available}, {User: alice, Status: Available}, {User: bob, Status: OnCall}},
			0,
			[]State{{User: bob, Status: OnCall}, {User: alice, Status: Available}}, 0},
		{"take at most max",
			[]State{{User: bob}, {User: alice}, {User: carol}},
			2,
			[]State{{User: bob}, {User: alice}}, 1},
		{"an ended call survives a newer state",
			[]State{
				{User: alice, Status: OnCall, Dialogs: []Dialog{{ID: "call_1", State: DialogConfirmed}}},
				{User: alice, Status: Available, Dialogs: []Dialog{{ID: "call_1", State: DialogTerminated}}},
				{User: alice, Status: Offline},
			},
			0,
			[]State{{User: alice, Status: Offline, Dialogs: []Dialog{{ID: "call_1", State: DialogTerminated}}}}, 0},
		{"a call that ends in the newer state is not doubled",
			[]State{
				{User: alice, Dialogs: []Dialog{{ID: "call_1", State: DialogTerminated}}},
				{User: alice, Dialogs: []Dialog{{ID: "call_1", State: DialogTerminated}, {ID: "call_2", State: DialogEarly}}},
			},
			0,
			[]State{{User: alice, Dialogs: []Dialog{{ID: "call_1", State: DialogTerminated}, {ID: "call_2", State: DialogEarly}}}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMailbox()
			for _, s := range tt.put {
				m.Put(s)
			}
			<-m.Ready()
			require.Equal(t, tt.want, m.Take(tt.max))
			require.Equal(t, tt.left, m.Len())
			if tt.left > 0 {
				select {
				case <-m.Ready():
				default:
					t.Fatal("states are left but the mailbox is not ready")
				}
			}
		})
	}
}
