package sqldb_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/internal/store/sqldb"
)

func TestDialPlans(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		acme := newAccount(t, db, "Acme").ID
		beta := newAccount(t, db, "Beta").ID

		got, err := db.GetDialPlan(ctx, acme)
		require.NoError(t, err)
		require.Equal(t, store.DefaultDialPlan(acme), got)

		p := &store.DialPlan{AccountID: acme, ExtensionLength: 3, Country: "GB", EmergencyNumbers: []string{"999", "112"},
			EmergencyTrunk: "carrier", InternationalAllow: []string{"+33", "+49"}, MaxOutboundCalls: 4}
		require.NoError(t, db.PutDialPlan(ctx, p))
		require.False(t, p.UpdatedAt.IsZero())
		got, err = db.GetDialPlan(ctx, acme)
		require.NoError(t, err)
		require.Equal(t, p, got)

		// Replacing keeps one row; empty lists read back empty, not nil.
		p2 := &store.DialPlan{AccountID: acme}
		require.NoError(t, db.PutDialPlan(ctx, p2))
		got, err = db.GetDialPlan(ctx, acme)
		require.NoError(t, err)
		require.Equal(t, []string{}, got.EmergencyNumbers)
		require.Equal(t, []string{}, got.InternationalAllow)
		require.Empty(t, got.Country)

		got, err = db.GetDialPlan(ctx, beta)
		require.NoError(t, err)
		require.Equal(t, store.DefaultDialPlan(beta), got, "other accounts keep the default")
	})
}

func TestFollowMe(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		acme := newAccount(t, db, "Acme").ID
		u := newUser(t, db, acme, "101", "")

		_, err := db.GetFollowMe(ctx, u.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, db.DeleteFollowMe(ctx, u.ID), store.ErrNotFound)

		f := &store.FollowMe{UserID: u.ID, Steps: []store.FollowMeStep{
			{Targets: []string{"devices"}, RingSeconds: 15},
			{Targets: []string{"devices", "102", "+14155550100"}, RingSeconds: 20},
		}, FinalForward: "103"}
		require.NoError(t, db.PutFollowMe(ctx, f))
		got, err := db.GetFollowMe(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, f, got)

		f.Steps, f.FinalForward = f.Steps[:1], ""
		require.NoError(t, db.PutFollowMe(ctx, f))
		got, err = db.GetFollowMe(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, f, got)

		err = db.PutFollowMe(ctx, &store.FollowMe{UserID: "user_missing"})
		require.ErrorIs(t, err, store.ErrNotFound)

		require.NoError(t, db.DeleteFollowMe(ctx, u.ID))
		_, err = db.GetFollowMe(ctx, u.ID)
		require.ErrorIs(t, err, store.ErrNotFound)

		// Deleting the user deletes their follow-me.
		require.NoError(t, db.PutFollowMe(ctx, f))
		require.NoError(t, db.DeleteUser(ctx, u.ID))
		var n int
		require.NoError(t, sqldb.QueryRow(ctx, db, "SELECT COUNT(*) FROM follow_me").Scan(&n))
		require.Zero(t, n)
	})
}

func TestRingGroups(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		acme := newAccount(t, db, "Acme").ID
		beta := newAccount(t, db, "Beta").ID
		alice := newUser(t, db, acme, "101", "")
		bob := newUser(t, db, acme, "102", "")

		g := &store.RingGroup{AccountID: acme, Name: "Sales", Extension: "200", Members: []ident.UserID{alice.ID, bob.ID},
			RingSeconds: 25, Next: "101"}
		require.NoError(t, db.CreateRingGroup(ctx, g))
		require.Regexp(t, `^rg_`, string(g.ID))
		got, err := db.GetRingGroup(ctx, g.ID)
		require.NoError(t, err)
		require.Equal(t, g, got)
		got, err = db.GetRingGroupByExtension(ctx, acme, "200")
		require.NoError(t, err)
		require.Equal(t, g, got)

		noExt := &store.RingGroup{AccountID: acme, Name: "Overflow", RingSeconds: 30}
		require.NoError(t, db.CreateRingGroup(ctx, noExt))
		require.Equal(t, []ident.UserID{}, mustRingGroup(t, db, noExt.ID).Members)
		// Many groups may have no extension.
		require.NoError(t, db.CreateRingGroup(ctx, &store.RingGroup{AccountID: acme, Name: "Another", RingSeconds: 30}))

		conflicts := []struct {
			name string
			g    store.RingGroup
			msg  string
		}{
			{"a user's extension", store.RingGroup{AccountID: acme, Name: "x", Extension: "101"}, `extension "101" is taken by a user`},
			{"another group's extension", store.RingGroup{AccountID: acme, Name: "x", Extension: "200"}, `extension "200" is taken by a ring group`},
			{"id taken", store.RingGroup{ID: g.ID, AccountID: acme, Name: "x"}, "is taken"},
		}
		for _, tc := range conflicts {
			t.Run(tc.name, func(t *testing.T) {
				err := db.CreateRingGroup(ctx, &tc.g)
				require.ErrorIs(t, err, store.ErrConflict)
				require.Contains(t, err.Error(), tc.msg)
			})
		}
		// Extensions are per account.
		require.NoError(t, db.CreateRingGroup(ctx, &store.RingGroup{AccountID: beta, Name: "x", Extension: "200"}))
		require.NoError(t, db.CreateRingGroup(ctx, &store.RingGroup{AccountID: beta, Name: "y", Extension: "101"}))

		// Users cannot take a group's extension, on create or update.
		err = db.CreateUser(ctx, &store.User{AccountID: acme, Name: "x", Extension: "200"})
		require.ErrorIs(t, err, store.ErrConflict)
		require.Contains(t, err.Error(), `extension "200" is taken by a ring group`)
		_, err = db.UpdateUser(ctx, bob.ID, store.UserPatch{Extension: ptr("200")})
		require.ErrorIs(t, err, store.ErrConflict)
		require.Contains(t, err.Error(), `extension "200" is taken by a ring group`)
		_, err = db.UpdateUser(ctx, bob.ID, store.UserPatch{Name: ptr("Robert")})
		require.NoError(t, err, "an update that keeps the extension passes the trigger")

		// Update.
		noExt.Extension, noExt.Members, noExt.Name = "201", []ident.UserID{bob.ID}, "Overflow 2"
		require.NoError(t, db.UpdateRingGroup(ctx, noExt))
		require.Equal(t, noExt.Members, mustRingGroup(t, db, noExt.ID).Members)
		noExt.Extension = "102"
		require.ErrorIs(t, db.UpdateRingGroup(ctx, noExt), store.ErrConflict)
		noExt.Extension = "200"
		require.ErrorIs(t, db.UpdateRingGroup(ctx, noExt), store.ErrConflict)
		missing := store.RingGroup{ID: "rg_missing", Name: "x"}
		require.ErrorIs(t, db.UpdateRingGroup(ctx, &missing), store.ErrNotFound)

		// Listing and paging.
		list, more, err := db.ListRingGroups(ctx, acme, store.ListOptions{Limit: 2})
		require.NoError(t, err)
		require.True(t, more)
		require.Equal(t, []ident.RingGroupID{g.ID, noExt.ID}, groupIDs(list))
		list, more, err = db.ListRingGroups(ctx, acme, store.ListOptions{StartingAfter: string(noExt.ID)})
		require.NoError(t, err)
		require.False(t, more)
		require.Len(t, list, 1)
		list, _, err = db.ListRingGroups(ctx, "", store.ListOptions{})
		require.NoError(t, err)
		require.Len(t, list, 5)

		// Deleting a user takes them out of the account's groups, in order.
		carol := newUser(t, db, acme, "103", "")
		g.Members = []ident.UserID{alice.ID, carol.ID, bob.ID}
		require.NoError(t, db.UpdateRingGroup(ctx, g))
		require.NoError(t, db.DeleteUser(ctx, carol.ID))
		require.Equal(t, []ident.UserID{alice.ID, bob.ID}, mustRingGroup(t, db, g.ID).Members)
		require.NoError(t, db.DeleteUser(ctx, bob.ID))
		require.Equal(t, []ident.UserID{alice.ID}, mustRingGroup(t, db, g.ID).Members)
		require.Equal(t, []ident.UserID{}, mustRingGroup(t, db, noExt.ID).Members)

		notFound := map[string]func() error{
			"get":              func() error { _, err := db.GetRingGroup(ctx, "rg_missing"); return err },
			"by extension":     func() error { _, err := db.GetRingGroupByExtension(ctx, acme, "999"); return err },
			"by empty":         func() error { _, err := db.GetRingGroupByExtension(ctx, acme, ""); return err },
			"by other account": func() error { _, err := db.GetRingGroupByExtension(ctx, "acct_other", "200"); return err },
			"delete":           func() error { return db.DeleteRingGroup(ctx, "rg_missing") },
			"list after absent": func() error {
				_, _, err := db.ListRingGroups(ctx, acme, store.ListOptions{StartingAfter: "rg_x"})
				return err
			},
		}
		for name, f := range notFound {
			t.Run(name, func(t *testing.T) { require.ErrorIs(t, f(), store.ErrNotFound) })
		}

		// Deleting the group frees its extension for a user.
		require.NoError(t, db.DeleteRingGroup(ctx, g.ID))
		newUser(t, db, acme, "200", "")
	})
}

func TestPhoneNumberRouting(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		acme := newAccount(t, db, "Acme").ID
		u := newUser(t, db, acme, "101", "")
		g := &store.RingGroup{AccountID: acme, Name: "Sales", RingSeconds: 30}
		require.NoError(t, db.CreateRingGroup(ctx, g))
		user, group, none := u.ID, g.ID, ident.RingGroupID("")

		n := &store.PhoneNumber{AccountID: acme, Number: "+15550100", RingGroupID: g.ID}
		require.NoError(t, db.CreatePhoneNumber(ctx, n))
		got, err := db.GetPhoneNumber(ctx, n.ID)
		require.NoError(t, err)
		require.Equal(t, n, got)

		tests := []struct {
			name      string
			patch     store.PhoneNumberPatch
			wantUser  ident.UserID
			wantGroup ident.RingGroupID
			wantErr   error
		}{
			{"empty patch keeps the group", store.PhoneNumberPatch{}, "", group, nil},
			{"user clears the group", store.PhoneNumberPatch{UserID: &user}, user, "", nil},
			{"group clears the user", store.PhoneNumberPatch{RingGroupID: &group}, "", group, nil},
			{"clearing the user keeps the group", store.PhoneNumberPatch{UserID: ptr(ident.UserID(""))}, "", group, nil},
			{"clearing the group", store.PhoneNumberPatch{RingGroupID: &none}, "", "", nil},
			{"user and empty group", store.PhoneNumberPatch{UserID: &user, RingGroupID: &none}, user, "", nil},
			{"missing group", store.PhoneNumberPatch{RingGroupID: ptr(ident.RingGroupID("rg_missing"))}, user, "", store.ErrNotFound},
			{"both", store.PhoneNumberPatch{UserID: &user, RingGroupID: &group}, user, "", sqldb.ErrBothRoutes},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, err := db.UpdatePhoneNumber(ctx, n.ID, tc.patch)
				if tc.wantErr != nil {
					require.ErrorIs(t, err, tc.wantErr)
				} else {
					require.NoError(t, err)
					require.Equal(t, tc.wantUser, got.UserID)
					require.Equal(t, tc.wantGroup, got.RingGroupID)
				}
				stored, err := db.GetPhoneNumber(ctx, n.ID)
				require.NoError(t, err)
				require.Equal(t, tc.wantUser, stored.UserID)
				require.Equal(t, tc.wantGroup, stored.RingGroupID)
			})
		}

		err = db.CreatePhoneNumber(ctx, &store.PhoneNumber{AccountID: acme, Number: "+15550101", RingGroupID: "rg_missing"})
		require.ErrorIs(t, err, store.ErrNotFound)
		require.Contains(t, err.Error(), `ring group "rg_missing" not found`)
		err = db.CreatePhoneNumber(ctx, &store.PhoneNumber{AccountID: acme, Number: "+15550101", UserID: u.ID, RingGroupID: g.ID})
		require.ErrorIs(t, err, sqldb.ErrBothRoutes)

		// Deleting the group un-routes its numbers.
		_, err = db.UpdatePhoneNumber(ctx, n.ID, store.PhoneNumberPatch{RingGroupID: &group})
		require.NoError(t, err)
		require.NoError(t, db.DeleteRingGroup(ctx, g.ID))
		got, err = db.GetPhoneNumber(ctx, n.ID)
		require.NoError(t, err)
		require.Empty(t, got.RingGroupID)
		require.Empty(t, got.UserID)
	})
}

func TestCanCallExternal(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		acme := newAccount(t, db, "Acme").ID
		u := &store.User{AccountID: acme, Name: "A", Extension: "101", CanCallExternal: true}
		require.NoError(t, db.CreateUser(ctx, u))
		got, err := db.GetUser(ctx, u.ID)
		require.NoError(t, err)
		require.True(t, got.CanCallExternal)
		got, err = db.UpdateUser(ctx, u.ID, store.UserPatch{CanCallExternal: ptr(false)})
		require.NoError(t, err)
		require.False(t, got.CanCallExternal)
		got, err = db.UpdateUser(ctx, u.ID, store.UserPatch{Name: ptr("B")})
		require.NoError(t, err)
		require.False(t, got.CanCallExternal)
	})
}

func mustRingGroup(t *testing.T, db *sqldb.DB, id ident.RingGroupID) *store.RingGroup {
	t.Helper()
	g, err := db.GetRingGroup(context.Background(), id)
	require.NoError(t, err)
	return g
}

func groupIDs(gs []store.RingGroup) []ident.RingGroupID {
	out := []ident.RingGroupID{}
	for _, g := range gs {
		out = append(out, g.ID)
	}
	return out
}
