package route

import (
	"context"
	"errors"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// fakeDir is an in-memory Dir. A non-nil fail[method] is returned by that
// method instead of a result.
type fakeDir struct {
	users    map[ident.UserID]*store.User
	numbers  map[string]*store.PhoneNumber
	groups   map[ident.RingGroupID]*store.RingGroup
	plans    map[ident.AccountID]*store.DialPlan
	followMe map[ident.UserID]*store.FollowMe
	fail     map[string]error
}

var _ Dir = (*fakeDir)(nil)

func newFakeDir() *fakeDir {
	return &fakeDir{
		users:    map[ident.UserID]*store.User{},
		numbers:  map[string]*store.PhoneNumber{},
		groups:   map[ident.RingGroupID]*store.RingGroup{},
		plans:    map[ident.AccountID]*store.DialPlan{},
		followMe: map[ident.UserID]*store.FollowMe{},
		fail:     map[string]error{},
	}
}

func clone[T any](v *T, ok bool) (*T, error) {
	if !ok {
		return nil, store.ErrNotFound
	}
	c := *v
	return &c, nil
}

func (d *fakeDir) GetUser(_ context.Context, id ident.UserID) (*store.User, error) {
	if err := d.fail["GetUser"]; err != nil {
		return nil, err
	}
	u, ok := d.users[id]
	return clone(u, ok)
}

func (d *fakeDir) GetUserByExtension(_ context.Context, acct ident.AccountID, ext string) (*store.User, error) {
	if err := d.fail["GetUserByExtension"]; err != nil {
		return nil, err
	}
	for _, u := range d.users {
		if u.AccountID == acct && u.Extension == ext {
			return clone(u, true)
		}
	}
	return nil, store.ErrNotFound
}

func (d *fakeDir) GetPhoneNumberByNumber(_ context.Context, number string) (*store.PhoneNumber, error) {
	if err := d.fail["GetPhoneNumberByNumber"]; err != nil {
		return nil, err
	}
	n, ok := d.numbers[number]
	return clone(n, ok)
}

func (d *fakeDir) GetRingGroup(_ context.Context, id ident.RingGroupID) (*store.RingGroup, error) {
	if err := d.fail["GetRingGroup"]; err != nil {
		return nil, err
	}
	g, ok := d.groups[id]
	return clone(g, ok)
}

func (d *fakeDir) GetRingGroupByExtension(_ context.Context, acct ident.AccountID, ext string) (*store.RingGroup, error) {
	if err := d.fail["GetRingGroupByExtension"]; err != nil {
		return nil, err
	}
	for _, g := range d.groups {
		if g.AccountID == acct && g.Extension == ext && ext != "" {
			return clone(g, true)
		}
	}
	return nil, store.ErrNotFound
}

func (d *fakeDir) GetDialPlan(_ context.Context, acct ident.AccountID) (*store.DialPlan, error) {
	if err := d.fail["GetDialPlan"]; err != nil {
		return nil, err
	}
	if p, ok := d.plans[acct]; ok {
		return clone(p, true)
	}
	return store.DefaultDialPlan(acct), nil
}

func (d *fakeDir) GetFollowMe(_ context.Context, user ident.UserID) (*store.FollowMe, error) {
	if err := d.fail["GetFollowMe"]; err != nil {
		return nil, err
	}
	f, ok := d.followMe[user]
	return clone(f, ok)
}

var errDisk = errors.New("disk on fire")
