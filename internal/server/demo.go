package server

import (
	"context"
	"errors"
	"time"

	"github.com/switchboard-voice/switchboard/internal/api"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// DemoUser is a demo user with a ready token.
type DemoUser struct {
	User    store.User
	Token   string
	Expires time.Time
}

var demoUsers = []struct{ name, ext, password string }{
	{"Alice", "101", "alice-sip-pass"},
	{"Bob", "102", "bob-sip-pass"},
	{"Carol", "103", "carol-sip-pass"},
}

// EnsureDemo creates (idempotently) alice/101, bob/102 and carol/103 in the
// default account, SIP username = extension, and mints a 24 h token for each.
func (s *Server) EnsureDemo(ctx context.Context) ([]DemoUser, error) {
	out := make([]DemoUser, 0, len(demoUsers))
	for _, d := range demoUsers {
		u, err := s.Store.GetUserByExtension(ctx, s.Account, d.ext)
		if errors.Is(err, store.ErrNotFound) {
			u = &store.User{AccountID: s.Account, Name: d.name, Extension: d.ext,
				SIPUsername: d.ext, SIPPassword: d.password, CanCallExternal: true}
			err = s.Store.CreateUser(ctx, u)
		}
		if err != nil {
			return nil, err
		}
		tok, exp, err := s.Tokens.Mint(u, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, DemoUser{User: *u, Token: tok, Expires: exp})
	}
	return out, nil
}

// demoUsers lists the demo users with fresh tokens (demo mode only).
func (s *Server) demoUsers(ctx context.Context) ([]api.DemoUser, error) {
	users, err := s.EnsureDemo(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.DemoUser, len(users))
	for i, d := range users {
		out[i] = api.DemoUser{Name: d.User.Name, Extension: d.User.Extension, UserID: string(d.User.ID), Token: d.Token}
	}
	return out, nil
}
