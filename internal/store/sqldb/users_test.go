package sqldb_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/secrets"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/internal/store/sqldb"
)

func TestAccounts(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()

		a := &store.Account{Name: "Acme", DefaultCallerID: "+15550100"}
		require.NoError(t, db.CreateAccount(ctx, a))
		require.NotEmpty(t, a.ID)
		require.False(t, a.CreatedAt.IsZero())
		require.Equal(t, time.UTC, a.CreatedAt.Location())

		b := &store.Account{ID: "acct_fixed", Name: "Beta", CreatedAt: time.Date(2024, 1, 2, 3, 4, 5, 6000000, time.UTC)}
		require.NoError(t, db.CreateAccount(ctx, b))
		require.Equal(t, ident.AccountID("acct_fixed"), b.ID)

		got, err := db.GetAccount(ctx, a.ID)
		require.NoError(t, err)
		require.Equal(t, a, got)

		err = db.CreateAccount(ctx, &store.Account{ID: "acct_fixed", Name: "dup"})
		require.ErrorIs(t, err, store.ErrConflict)

		_, err = db.GetAccount(ctx, "acct_missing")
		require.ErrorIs(t, err, store.ErrNotFound)

		all, err := db.ListAccounts(ctx)
		require.NoError(t, err)
		require.Equal(t, []store.Account{*a, *b}, all)
	})
}

func TestCreateUserConflicts(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		acme := newAccount(t, db, "Acme").ID
		beta := newAccount(t, db, "Beta").ID
		newUser(t, db, acme, "101", "alice")

		tests := []struct {
			name    string
			acct    ident.AccountID
			ext     string
			sip     string
			wantErr error
			wantMsg string
		}{
			{"duplicate extension same account", acme, "101", "", store.ErrConflict, `extension "101" is taken`},
			{"same extension other account", beta, "101", "", nil, ""},
			{"duplicate sip username", beta, "102", "alice", store.ErrConflict, `sip username "alice" is taken`},
			{"empty sip username", acme, "103", "", nil, ""},
			{"second empty sip username", acme, "104", "", nil, ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				err := db.CreateUser(ctx, &store.User{AccountID: tc.acct, Name: "x", Extension: tc.ext, SIPUsername: tc.sip})
				if tc.wantErr == nil {
					require.NoError(t, err)
					return
				}
				require.ErrorIs(t, err, tc.wantErr)
				require.Contains(t, err.Error(), tc.wantMsg)
			})
		}

		u := newUser(t, db, acme, "200", "")
		err := db.CreateUser(ctx, &store.User{ID: u.ID, AccountID: acme, Extension: "201"})
		require.ErrorIs(t, err, store.ErrConflict)
	})
}

func TestUserGetters(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		acme := newAccount(t, db, "Acme").ID
		u := &store.User{AccountID: acme, Name: "Alice", Extension: "101", SIPUsername: "alice",
			SIPPassword: "pw", DoNotDisturb: true, RingTimeoutSeconds: 25, TokenGeneration: 3}
		require.NoError(t, db.CreateUser(ctx, u))
		require.NotEmpty(t, u.ID)
		require.False(t, u.CreatedAt.IsZero())
		require.Equal(t, u.CreatedAt, u.UpdatedAt)
		require.Equal(t, "pw", u.SIPPassword, "left for the caller to show once")
		require.Equal(t, secrets.DigestHA1("alice", sqldb.DefaultRealm, "pw"), u.SIPHA1)
		u.SIPPassword = "" // write-only: only the HA1s are stored

		got, err := db.GetUser(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, u, got)
		got, err = db.GetUserByExtension(ctx, acme, "101")
		require.NoError(t, err)
		require.Equal(t, u, got)
		got, err = db.GetUserBySIPUsername(ctx, "alice")
		require.NoError(t, err)
		require.Equal(t, u, got)

		newUser(t, db, acme, "102", "")
		notFound := map[string]func() error{
			"id":              func() error { _, err := db.GetUser(ctx, "user_missing"); return err },
			"extension":       func() error { _, err := db.GetUserByExtension(ctx, acme, "999"); return err },
			"other account":   func() error { _, err := db.GetUserByExtension(ctx, "acct_other", "101"); return err },
			"sip username":    func() error { _, err := db.GetUserBySIPUsername(ctx, "bob"); return err },
			"empty sip":       func() error { _, err := db.GetUserBySIPUsername(ctx, ""); return err },
			"delete":          func() error { return db.DeleteUser(ctx, "user_missing") },
			"bump generation": func() error { _, err := db.BumpTokenGeneration(ctx, "user_missing"); return err },
			"update": func() error {
				_, err := db.UpdateUser(ctx, "user_missing", store.UserPatch{Name: ptr("x")})
				return err
			},
		}
		for name, f := range notFound {
			t.Run(name, func(t *testing.T) { require.ErrorIs(t, f(), store.ErrNotFound) })
		}
	})
}

func TestUpdateUser(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		acme := newAccount(t, db, "Acme").ID
		old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
		u := &store.User{AccountID: acme, Name: "Alice", Extension: "101", SIPUsername: "alice",
			SIPPassword: "pw", CreatedAt: old, UpdatedAt: old}
		require.NoError(t, db.CreateUser(ctx, u))
		newUser(t, db, acme, "102", "bob")

		got, err := db.UpdateUser(ctx, u.ID, store.UserPatch{Name: ptr("Alicia"), DoNotDisturb: ptr(true)})
		require.NoError(t, err)
		require.Equal(t, "Alicia", got.Name)
		require.True(t, got.DoNotDisturb)
		require.Equal(t, "101", got.Extension)
		require.Equal(t, "alice", got.SIPUsername)
		require.Empty(t, got.SIPPassword)
		require.Equal(t, secrets.DigestHA1("alice", sqldb.DefaultRealm, "pw"), got.SIPHA1)
		require.Equal(t, old, got.CreatedAt)
		require.True(t, got.UpdatedAt.After(old))

		got, err = db.UpdateUser(ctx, u.ID, store.UserPatch{Extension: ptr("110"), SIPUsername: ptr("al"),
			SIPPassword: ptr("pw2"), RingTimeoutSeconds: ptr(40), DoNotDisturb: ptr(false)})
		require.NoError(t, err)
		stored, err := db.GetUser(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, got, stored)
		require.Equal(t, store.User{ID: u.ID, AccountID: acme, Name: "Alicia", Extension: "110",
			SIPUsername: "al", SIPHA1: secrets.DigestHA1("al", sqldb.DefaultRealm, "pw2"), RingTimeoutSeconds: 40, Role: store.RoleUser, CreatedAt: old,
			UpdatedAt: stored.UpdatedAt}, *stored)

		got, err = db.UpdateUser(ctx, u.ID, store.UserPatch{SIPPassword: ptr("pw3")})
		require.NoError(t, err)
		require.Equal(t, secrets.DigestHA1("al", sqldb.DefaultRealm, "pw3"), got.SIPHA1, "hashed with the current username")
		got, err = db.UpdateUser(ctx, u.ID, store.UserPatch{SIPUsername: ptr("al")})
		require.NoError(t, err)
		require.Equal(t, secrets.DigestHA1("al", sqldb.DefaultRealm, "pw3"), got.SIPHA1, "the same name keeps the HA1s")
		got, err = db.UpdateUser(ctx, u.ID, store.UserPatch{SIPUsername: ptr("alf")})
		require.NoError(t, err)
		require.True(t, got.SIPHA1.IsZero(), "HA1s for another name are dropped")
		got, err = db.UpdateUser(ctx, u.ID, store.UserPatch{SIPUsername: ptr("al"), SIPPassword: ptr("pw2")})
		require.NoError(t, err)
		require.Equal(t, secrets.DigestHA1("al", sqldb.DefaultRealm, "pw2"), got.SIPHA1)

		_, err = db.UpdateUser(ctx, u.ID, store.UserPatch{Extension: ptr("102")})
		require.ErrorIs(t, err, store.ErrConflict)
		require.Contains(t, err.Error(), `extension "102" is taken`)
		_, err = db.UpdateUser(ctx, u.ID, store.UserPatch{SIPUsername: ptr("bob")})
		require.ErrorIs(t, err, store.ErrConflict)
		require.Contains(t, err.Error(), `sip username "bob" is taken`)
		_, err = db.UpdateUser(ctx, u.ID, store.UserPatch{SIPUsername: ptr("")})
		require.NoError(t, err)

		got, err = db.UpdateUser(ctx, u.ID, store.UserPatch{})
		require.NoError(t, err)
		require.Equal(t, "110", got.Extension)
	})
}

func TestBumpTokenGenerationAndDeleteUser(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		acme := newAccount(t, db, "Acme").ID
		u := newUser(t, db, acme, "101", "")
		for want := int64(1); want <= 3; want++ {
			gen, err := db.BumpTokenGeneration(ctx, u.ID)
			require.NoError(t, err)
			require.Equal(t, want, gen)
		}
		got, err := db.GetUser(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, int64(3), got.TokenGeneration)

		n := &store.PhoneNumber{AccountID: acme, Number: "+15550100", UserID: u.ID}
		require.NoError(t, db.CreatePhoneNumber(ctx, n))
		require.NoError(t, db.DeleteUser(ctx, u.ID))
		_, err = db.GetUser(ctx, u.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, db.DeleteUser(ctx, u.ID), store.ErrNotFound)
		gotN, err := db.GetPhoneNumber(ctx, n.ID)
		require.NoError(t, err)
		require.Empty(t, gotN.UserID)

		// The extension is free again.
		newUser(t, db, acme, "101", "")
	})
}

func TestListUsersPaging(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		acme := newAccount(t, db, "Acme").ID
		beta := newAccount(t, db, "Beta").ID
		var ids []ident.UserID
		for i := range 5 {
			ids = append(ids, newUser(t, db, acme, fmt.Sprint(100+i), "").ID)
			newUser(t, db, beta, fmt.Sprint(100+i), "")
		}
		tests := []struct {
			name    string
			acct    ident.AccountID
			opt     store.ListOptions
			want    []ident.UserID
			wantLen int
			more    bool
		}{
			{name: "all of account", acct: acme, want: ids},
			{name: "first page", acct: acme, opt: store.ListOptions{Limit: 2}, want: ids[:2], more: true},
			{name: "middle page", acct: acme, opt: store.ListOptions{Limit: 2, StartingAfter: string(ids[1])}, want: ids[2:4], more: true},
			{name: "last page", acct: acme, opt: store.ListOptions{Limit: 2, StartingAfter: string(ids[3])}, want: ids[4:]},
			{name: "exact fit", acct: acme, opt: store.ListOptions{Limit: 5}, want: ids},
			{name: "after last", acct: acme, opt: store.ListOptions{StartingAfter: string(ids[4])}, want: []ident.UserID{}},
			{name: "every account", wantLen: 10},
			{name: "every account capped", opt: store.ListOptions{Limit: 3}, wantLen: 3, more: true},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, more, err := db.ListUsers(ctx, tc.acct, tc.opt)
				require.NoError(t, err)
				require.Equal(t, tc.more, more)
				if tc.want == nil {
					require.Len(t, got, tc.wantLen)
					return
				}
				gotIDs := []ident.UserID{}
				for _, u := range got {
					require.Equal(t, tc.acct, u.AccountID)
					gotIDs = append(gotIDs, u.ID)
				}
				require.Equal(t, tc.want, gotIDs)
			})
		}
		_, _, err := db.ListUsers(ctx, acme, store.ListOptions{StartingAfter: "user_missing"})
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestListLimitDefaultAndCap(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		acme := newAccount(t, db, "Acme").ID
		for i := range 201 {
			n := &store.PhoneNumber{AccountID: acme, Number: fmt.Sprintf("+1555%07d", i)}
			require.NoError(t, db.CreatePhoneNumber(ctx, n))
		}
		for _, tc := range []struct {
			limit, want int
		}{{0, 50}, {-1, 50}, {1000, 200}, {200, 200}} {
			got, more, err := db.ListPhoneNumbers(ctx, acme, store.ListOptions{Limit: tc.limit})
			require.NoError(t, err)
			require.Len(t, got, tc.want)
			require.True(t, more)
		}
	})
}
