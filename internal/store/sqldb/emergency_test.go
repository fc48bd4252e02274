package sqldb_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/emergency"
	"github.com/switchboard-voice/switchboard/internal/store"
)

func TestEmergencyAddresses(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		db := e.open(t)
		acct := newAccount(t, db, "A")
		alice := newUser(t, db, acct.ID, "101", "alice")
		bob := newUser(t, db, acct.ID, "102", "bob")
		civic := emergency.Civic{AddressNumber: "1", Street: "Main St", City: "Springfield", State: "IL", PostalCode: "62701", Country: "US"}
		add := func(u *store.User, at time.Time) *store.EmergencyAddress {
			a := &store.EmergencyAddress{UserID: u.ID, AccountID: acct.ID, Civic: civic, FormattedAddress: civic.Formatted(), CreatedAt: at}
			require.NoError(t, db.CreateEmergencyAddress(ctx, a, 2))
			return a
		}
		t0 := time.Now().UTC().Truncate(time.Millisecond)
		first, second := add(alice, t0), add(alice, t0.Add(time.Second))
		err := db.CreateEmergencyAddress(ctx, &store.EmergencyAddress{UserID: alice.ID, AccountID: acct.ID, Civic: civic}, 2)
		require.ErrorIs(t, err, store.ErrLimit)

		list, err := db.ListEmergencyAddresses(ctx, alice.ID)
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, second.ID, list[0].ID, "newest first")
		require.Equal(t, civic, list[1].Civic)
		require.Empty(t, list[1].RegisteredIP)

		// Bob sees none of Alice's.
		_, err = db.GetEmergencyAddress(ctx, bob.ID, first.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = db.BindEmergencyAddress(ctx, bob.ID, first.ID, "10.0.0.1")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, db.DeleteEmergencyAddress(ctx, bob.ID, first.ID), store.ErrNotFound)
		require.ErrorIs(t, db.ClearEmergencyAddressIP(ctx, bob.ID, first.ID), store.ErrNotFound)

		// The first bind wins; a later one from elsewhere sees it.
		a, err := db.BindEmergencyAddress(ctx, alice.ID, first.ID, "10.0.0.1")
		require.NoError(t, err)
		require.Equal(t, "10.0.0.1", a.RegisteredIP)
		a, err = db.BindEmergencyAddress(ctx, alice.ID, first.ID, "10.0.0.2")
		require.NoError(t, err)
		require.Equal(t, "10.0.0.1", a.RegisteredIP)
		require.NoError(t, db.ClearEmergencyAddressIP(ctx, alice.ID, first.ID))
		a, err = db.GetEmergencyAddress(ctx, alice.ID, first.ID)
		require.NoError(t, err)
		require.Empty(t, a.RegisteredIP)

		require.NoError(t, db.DeleteEmergencyAddress(ctx, alice.ID, first.ID))
		add(alice, t0) // room again
		require.NoError(t, db.DeleteUser(ctx, alice.ID))
		list, err = db.ListEmergencyAddresses(ctx, alice.ID)
		require.NoError(t, err)
		require.Empty(t, list, "deleted with their user")
	})
}

func TestDialPlanEmergencyAddressRequired(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		ctx := context.Background()
		db := e.open(t)
		acct := newAccount(t, db, "A")
		p, err := db.GetDialPlan(ctx, acct.ID)
		require.NoError(t, err)
		require.False(t, p.EmergencyAddressRequired)
		p.EmergencyAddressRequired = true
		require.NoError(t, db.PutDialPlan(ctx, p))
		p, err = db.GetDialPlan(ctx, acct.ID)
		require.NoError(t, err)
		require.True(t, p.EmergencyAddressRequired)
	})
}
