package sqldb_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

func TestPhoneNumbers(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		acme := newAccount(t, db, "Acme").ID
		u := newUser(t, db, acme, "101", "")

		n := &store.PhoneNumber{AccountID: acme, Number: "+15550100"}
		require.NoError(t, db.CreatePhoneNumber(ctx, n))
		require.NotEmpty(t, n.ID)
		require.False(t, n.CreatedAt.IsZero())

		got, err := db.GetPhoneNumber(ctx, n.ID)
		require.NoError(t, err)
		require.Equal(t, n, got)
		got, err = db.GetPhoneNumberByNumber(ctx, "+15550100")
		require.NoError(t, err)
		require.Equal(t, n, got)

		err = db.CreatePhoneNumber(ctx, &store.PhoneNumber{AccountID: acme, Number: "+15550100"})
		require.ErrorIs(t, err, store.ErrConflict)
		require.Contains(t, err.Error(), `number "+15550100" is taken`)

		err = db.CreatePhoneNumber(ctx, &store.PhoneNumber{AccountID: acme, Number: "+15550101", UserID: "user_missing"})
		require.ErrorIs(t, err, store.ErrNotFound)
		require.Contains(t, err.Error(), `user "user_missing" not found`)

		got, err = db.UpdatePhoneNumber(ctx, n.ID, store.PhoneNumberPatch{UserID: &u.ID})
		require.NoError(t, err)
		require.Equal(t, u.ID, got.UserID)
		got, err = db.UpdatePhoneNumber(ctx, n.ID, store.PhoneNumberPatch{})
		require.NoError(t, err)
		require.Equal(t, u.ID, got.UserID)
		_, err = db.UpdatePhoneNumber(ctx, n.ID, store.PhoneNumberPatch{UserID: ptr(ident.UserID("user_missing"))})
		require.ErrorIs(t, err, store.ErrNotFound)
		require.Contains(t, err.Error(), `user "user_missing" not found`)
		got, err = db.UpdatePhoneNumber(ctx, n.ID, store.PhoneNumberPatch{UserID: ptr(ident.UserID(""))})
		require.NoError(t, err)
		require.Empty(t, got.UserID)
		stored, err := db.GetPhoneNumber(ctx, n.ID)
		require.NoError(t, err)
		require.Equal(t, got, stored)

		require.NoError(t, db.DeletePhoneNumber(ctx, n.ID))
		notFound := map[string]func() error{
			"get":       func() error { _, err := db.GetPhoneNumber(ctx, n.ID); return err },
			"by number": func() error { _, err := db.GetPhoneNumberByNumber(ctx, "+15550100"); return err },
			"delete":    func() error { return db.DeletePhoneNumber(ctx, n.ID) },
			"update": func() error {
				_, err := db.UpdatePhoneNumber(ctx, n.ID, store.PhoneNumberPatch{UserID: &u.ID})
				return err
			},
			"update empty patch": func() error {
				_, err := db.UpdatePhoneNumber(ctx, n.ID, store.PhoneNumberPatch{})
				return err
			},
		}
		for name, f := range notFound {
			t.Run(name, func(t *testing.T) { require.ErrorIs(t, f(), store.ErrNotFound) })
		}
	})
}

func TestListPhoneNumbersPaging(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		acme := newAccount(t, db, "Acme").ID
		beta := newAccount(t, db, "Beta").ID
		var want []ident.PhoneNumberID
		for i := range 4 {
			n := &store.PhoneNumber{AccountID: acme, Number: fmt.Sprintf("+1555010%d", i)}
			require.NoError(t, db.CreatePhoneNumber(ctx, n))
			want = append(want, n.ID)
			require.NoError(t, db.CreatePhoneNumber(ctx, &store.PhoneNumber{AccountID: beta, Number: fmt.Sprintf("+1555020%d", i)}))
		}
		var got []ident.PhoneNumberID
		opt := store.ListOptions{Limit: 3}
		for {
			page, more, err := db.ListPhoneNumbers(ctx, acme, opt)
			require.NoError(t, err)
			for _, n := range page {
				got = append(got, n.ID)
			}
			if !more {
				break
			}
			opt.StartingAfter = string(page[len(page)-1].ID)
		}
		require.Equal(t, want, got)

		all, more, err := db.ListPhoneNumbers(ctx, "", store.ListOptions{})
		require.NoError(t, err)
		require.False(t, more)
		require.Len(t, all, 8)

		_, _, err = db.ListPhoneNumbers(ctx, acme, store.ListOptions{StartingAfter: "pn_missing"})
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestSettings(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		_, err := db.GetSetting(ctx, "secret")
		require.ErrorIs(t, err, store.ErrNotFound)

		require.NoError(t, db.SetSetting(ctx, "secret", "a"))
		require.NoError(t, db.SetSetting(ctx, "secret", "b"))
		v, err := db.GetSetting(ctx, "secret")
		require.NoError(t, err)
		require.Equal(t, "b", v)

		v, err = db.SetSettingIfAbsent(ctx, "secret", "c")
		require.NoError(t, err)
		require.Equal(t, "b", v)
		v, err = db.SetSettingIfAbsent(ctx, "fresh", "d")
		require.NoError(t, err)
		require.Equal(t, "d", v)
	})
}

func TestSetSettingIfAbsentConcurrent(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		const n = 16
		got := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = db.SetSettingIfAbsent(ctx, "jwt_secret", fmt.Sprintf("value-%d", i))
			}()
		}
		wg.Wait()
		for i := range n {
			require.NoError(t, errs[i])
			require.Equal(t, got[0], got[i])
		}
		stored, err := db.GetSetting(ctx, "jwt_secret")
		require.NoError(t, err)
		require.Equal(t, got[0], stored)
	})
}

func sampleCall(acct ident.AccountID, from, to ident.UserID) *store.CallRecord {
	return &store.CallRecord{AccountID: acct, Direction: "internal", FromUserID: from, ToUserID: to,
		From: "101", FromName: "Alice", To: "102"}
}

func TestCallRecordRoundTrip(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		started := time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC)
		r := sampleCall("acct_a", "user_a", "user_b")
		r.StartedAt = started.In(time.FixedZone("X", 3600))
		require.NoError(t, db.CreateCallRecord(ctx, r))
		require.NotEmpty(t, r.ID)

		got, err := db.GetCallRecord(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, started, got.StartedAt)
		require.Nil(t, got.AnsweredAt)
		require.Nil(t, got.EndedAt)
		require.Nil(t, got.Legs)

		answered := started.Add(2 * time.Second)
		ended := started.Add(90 * time.Second)
		r.StartedAt = started
		r.AnsweredAt, r.EndedAt = &answered, &ended
		r.AnsweredBy, r.EndReason, r.Transfer = "sess_x", "hangup", "joined call_y by user_a"
		r.Legs = []store.LegStats{
			{LegID: "leg_1", Role: "caller", Kind: "webrtc", Device: "sess_1", Codec: "opus",
				PacketsSent: 100, PacketsReceived: 99, PacketsLost: -1, JitterMillis: 1.5},
			{LegID: "leg_2", Role: "callee", Kind: "sip", Device: "sip:102@10.0.0.2", Codec: "PCMU"},
		}
		require.NoError(t, db.UpdateCallRecord(ctx, r))
		got, err = db.GetCallRecord(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, r, got)

		r.Legs = []store.LegStats{}
		r.AnsweredAt = nil
		require.NoError(t, db.UpdateCallRecord(ctx, r))
		got, err = db.GetCallRecord(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, r, got)

		require.ErrorIs(t, db.CreateCallRecord(ctx, &store.CallRecord{ID: r.ID}), store.ErrConflict)
		require.ErrorIs(t, db.UpdateCallRecord(ctx, &store.CallRecord{ID: "call_missing"}), store.ErrNotFound)
		_, err = db.GetCallRecord(ctx, "call_missing")
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestListCallRecords(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		// ids[i] in creation order; listings are newest first.
		specs := []struct {
			acct     ident.AccountID
			from, to ident.UserID
		}{
			{"acct_a", "user_a", "user_b"},
			{"acct_a", "user_b", "user_c"},
			{"acct_b", "user_x", ""},
			{"acct_a", "", "user_a"},
			{"acct_a", "user_c", "user_b"},
		}
		var ids []ident.CallID
		for _, s := range specs {
			r := sampleCall(s.acct, s.from, s.to)
			require.NoError(t, db.CreateCallRecord(ctx, r))
			ids = append(ids, r.ID)
		}
		tests := []struct {
			name string
			f    store.CallFilter
			want []ident.CallID
			more bool
		}{
			{"all", store.CallFilter{}, []ident.CallID{ids[4], ids[3], ids[2], ids[1], ids[0]}, false},
			{"account", store.CallFilter{AccountID: "acct_a"}, []ident.CallID{ids[4], ids[3], ids[1], ids[0]}, false},
			{"user from or to", store.CallFilter{AccountID: "acct_a", UserID: "user_a"}, []ident.CallID{ids[3], ids[0]}, false},
			{"user only", store.CallFilter{UserID: "user_b"}, []ident.CallID{ids[4], ids[1], ids[0]}, false},
			{"first page", store.CallFilter{AccountID: "acct_a", ListOptions: store.ListOptions{Limit: 2}},
				[]ident.CallID{ids[4], ids[3]}, true},
			{"second page", store.CallFilter{AccountID: "acct_a",
				ListOptions: store.ListOptions{Limit: 2, StartingAfter: string(ids[3])}},
				[]ident.CallID{ids[1], ids[0]}, false},
			{"user paged", store.CallFilter{UserID: "user_b",
				ListOptions: store.ListOptions{Limit: 1, StartingAfter: string(ids[4])}},
				[]ident.CallID{ids[1]}, true},
			{"no match", store.CallFilter{UserID: "user_none"}, []ident.CallID{}, false},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, more, err := db.ListCallRecords(ctx, tc.f)
				require.NoError(t, err)
				require.Equal(t, tc.more, more)
				gotIDs := []ident.CallID{}
				for _, r := range got {
					gotIDs = append(gotIDs, r.ID)
				}
				require.Equal(t, tc.want, gotIDs)
			})
		}
		_, _, err := db.ListCallRecords(ctx, store.CallFilter{ListOptions: store.ListOptions{StartingAfter: "call_missing"}})
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

func TestCloseOpenCallRecords(t *testing.T) {
	eachEngine(t, func(t *testing.T, e engine) {
		db := e.open(t)
		ctx := context.Background()
		endedEarlier := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		closed := sampleCall("acct_a", "user_a", "")
		closed.EndedAt, closed.EndReason = &endedEarlier, "hangup"
		require.NoError(t, db.CreateCallRecord(ctx, closed))
		open1 := sampleCall("acct_a", "user_a", "")
		open2 := sampleCall("acct_b", "user_b", "")
		require.NoError(t, db.CreateCallRecord(ctx, open1))
		require.NoError(t, db.CreateCallRecord(ctx, open2))

		at := time.Date(2025, 2, 2, 2, 2, 2, 2000000, time.UTC)
		n, err := db.CloseOpenCallRecords(ctx, "server_restart", at)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		for _, id := range []ident.CallID{open1.ID, open2.ID} {
			got, err := db.GetCallRecord(ctx, id)
			require.NoError(t, err)
			require.NotNil(t, got.EndedAt)
			require.Equal(t, got.StartedAt, *got.EndedAt) // never checkpointed since it started
			require.Equal(t, "server_restart", got.EndReason)
		}
		got, err := db.GetCallRecord(ctx, closed.ID)
		require.NoError(t, err)
		require.Equal(t, closed, got)
		// Each closed record told its account's event log how it ended.
		evs, err := db.EventsAfter(ctx, "acct_a", 0, nil, 10)
		require.NoError(t, err)
		require.Len(t, evs, 1)
		require.Equal(t, store.EventCallEnded, evs[0].Type)
		require.Equal(t, open1.ID, evs[0].CallID)
		require.Contains(t, string(evs[0].Payload), `"end_reason":"server_restart"`)

		n, err = db.CloseOpenCallRecords(ctx, "server_restart", at)
		require.NoError(t, err)
		require.Zero(t, n)
		evs, err = db.EventsAfter(ctx, "acct_b", 0, nil, 10)
		require.NoError(t, err)
		require.Len(t, evs, 1, "closed once, told once")
	})
}
