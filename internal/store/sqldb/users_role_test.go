package sqldb_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/store"
)

func TestUserRole(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		acme := newAccount(t, db, "Acme").ID
		u := &store.User{AccountID: acme, Name: "Alice", Extension: "101", SIPUsername: "alice", SIPPassword: "pw"}
		require.NoError(t, db.CreateUser(ctx, u))
		require.Equal(t, store.RoleUser, u.Role, "an unset role is stored as user")
		boss := &store.User{AccountID: acme, Name: "Boss", Extension: "102", SIPUsername: "boss", SIPPassword: "pw", Role: store.RoleAdmin}
		require.NoError(t, db.CreateUser(ctx, boss))
		got, err := db.GetUser(ctx, boss.ID)
		require.NoError(t, err)
		require.Equal(t, store.RoleAdmin, got.Role)

		admin := store.RoleAdmin
		got, err = db.UpdateUser(ctx, u.ID, store.UserPatch{Role: &admin})
		require.NoError(t, err)
		require.Equal(t, store.RoleAdmin, got.Role)
		got, err = db.UpdateUser(ctx, u.ID, store.UserPatch{Name: ptr("Al")})
		require.NoError(t, err)
		require.Equal(t, store.RoleAdmin, got.Role, "a patch without role keeps it")

		bad := store.Role("root")
		_, err = db.UpdateUser(ctx, u.ID, store.UserPatch{Role: &bad})
		require.Error(t, err, "the schema refuses an unknown role")
	})
}
