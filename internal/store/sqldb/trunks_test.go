package sqldb_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/store"
)

func TestTrunks(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		db := e.open(t)

		a := store.Trunk{Name: "Carrier", Host: "sip.example.com", Port: 5080, Transport: "tcp", Username: "u",
			Password: "p", Prefixes: []string{"+1", "+44"}, Priority: 3, InboundAddresses: []string{"192.0.2.1", "192.0.2.2:5080"},
			InboundAuth: "digest", InboundUsername: "pbx", InboundPassword: "in-secret", Register: true, RegisterExpires: 300}
		require.NoError(t, db.CreateTrunk(ctx, &a))
		require.Regexp(t, `^trunk_`, string(a.ID))
		got, err := db.GetTrunk(ctx, a.ID)
		require.NoError(t, err)
		require.Equal(t, a.Prefixes, got.Prefixes)
		require.Equal(t, a.InboundAddresses, got.InboundAddresses)
		require.True(t, got.Register)
		require.Equal(t, 300, got.RegisterExpires)
		require.Equal(t, "p", got.Password)
		require.Equal(t, []string{"digest", "pbx", "in-secret"}, []string{got.InboundAuth, got.InboundUsername, got.InboundPassword})

		dup := store.Trunk{Name: "carrier", Host: "192.0.2.9"}
		require.ErrorIs(t, db.CreateTrunk(ctx, &dup), store.ErrConflict)
		b := store.Trunk{Name: "backup", Host: "192.0.2.9"}
		require.NoError(t, db.CreateTrunk(ctx, &b))
		got, err = db.GetTrunk(ctx, b.ID)
		require.NoError(t, err)
		require.Equal(t, []string{}, got.Prefixes)

		list, more, err := db.ListTrunks(ctx, store.ListOptions{Limit: 1})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, a.ID, list[0].ID)
		list, more, err = db.ListTrunks(ctx, store.ListOptions{StartingAfter: string(a.ID)})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, b.ID, list[0].ID)

		b.Name = "CARRIER"
		require.ErrorIs(t, db.UpdateTrunk(ctx, &b), store.ErrConflict)
		b.Name, b.Priority = "backup2", 9
		b.InboundAuth, b.InboundUsername, b.InboundPassword = "digest", "b", "b-secret"
		require.NoError(t, db.UpdateTrunk(ctx, &b))
		got, err = db.GetTrunk(ctx, b.ID)
		require.NoError(t, err)
		require.Equal(t, "backup2", got.Name)
		require.Equal(t, 9, got.Priority)
		require.Equal(t, []string{"digest", "b", "b-secret"}, []string{got.InboundAuth, got.InboundUsername, got.InboundPassword})

		require.NoError(t, db.DeleteTrunk(ctx, a.ID))
		require.ErrorIs(t, db.DeleteTrunk(ctx, a.ID), store.ErrNotFound)
		_, err = db.GetTrunk(ctx, a.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		gone := store.Trunk{ID: a.ID, Name: "x", Host: "192.0.2.1"}
		require.ErrorIs(t, db.UpdateTrunk(ctx, &gone), store.ErrNotFound)
	})
}
