package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/switchboard-voice/switchboard/internal/api"
	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/secrets"
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
// In demo mode (config demo, --demo) they cannot call numbers outside the
// account: their tokens are public (/v1/demo/users) and their SIP passwords
// known. Outside demo mode (test fixtures) they may.
func (s *Server) EnsureDemo(ctx context.Context) ([]DemoUser, error) {
	external := !s.Config.Demo
	out := make([]DemoUser, 0, len(demoUsers))
	for _, d := range demoUsers {
		u, err := s.Store.GetUserByExtension(ctx, s.Account, d.ext)
		switch {
		case errors.Is(err, store.ErrNotFound):
			u = &store.User{AccountID: s.Account, Name: d.name, Extension: d.ext,
				SIPUsername: d.ext, SIPPassword: d.password, CanCallExternal: external}
			err = s.Store.CreateUser(ctx, u)
		case err == nil && u.CanCallExternal && !external:
			u, err = s.Store.UpdateUser(ctx, u.ID, store.UserPatch{CanCallExternal: &external})
		}
		if err != nil {
			return nil, err
		}
		// Only HA1s are stored: re-set the known password when they are
		// not its (another realm, a changed password), so the one shown works.
		if u.SIPHA1 != secrets.DigestHA1(d.ext, s.Config.SIP.Realm, d.password) || u.SIPUsername != d.ext {
			pw, name := d.password, d.ext
			if u, err = s.Store.UpdateUser(ctx, u.ID, store.UserPatch{SIPUsername: &name, SIPPassword: &pw}); err != nil {
				return nil, err
			}
		}
		u.SIPPassword = d.password
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

// CheckDemoAddresses refuses demo mode on an address other hosts can reach
// (its tokens and SIP passwords are public) unless public is set.
func CheckDemoAddresses(cfg config.Config, public bool) error {
	if !cfg.Demo || public {
		return nil
	}
	var open []string
	for _, a := range []struct{ name, addr string }{
		{"--listen", cfg.Listen}, {"--sip-listen", cfg.SIPListen}, {"sip.tls_listen", cfg.SIP.TLSListen},
	} {
		if a.addr != "" && !isLoopback(a.addr) {
			open = append(open, fmt.Sprintf("%s %s", a.name, a.addr))
		}
	}
	if len(open) == 0 {
		return nil
	}
	return fmt.Errorf("demo mode publishes user tokens (GET /v1/demo/users) and known SIP passwords, "+
		"so it listens on loopback only; not loopback: %s. Use 127.0.0.1 addresses, "+
		"or add --demo-public if this server is meant to be reachable by anyone", strings.Join(open, ", "))
}

// isLoopback reports whether a host:port listens on loopback only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// WarnDemoUsers logs a warning, once, when the data directory holds the
// demo users (known SIP passwords, tokens handed out publicly) while the
// server is not in demo mode.
func (s *Server) WarnDemoUsers(ctx context.Context) error {
	if s.Config.Demo {
		return nil
	}
	var found []string
	for _, d := range demoUsers {
		u, err := s.Store.GetUserByExtension(ctx, s.Account, d.ext)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if u.Name == d.name && u.SIPUsername == d.ext {
			found = append(found, fmt.Sprintf("%s/%s", strings.ToLower(d.name), d.ext))
		}
	}
	if len(found) > 0 {
		s.Log.Warn("DEMO USERS PRESENT: this data directory holds the demo users, whose SIP passwords are "+
			"published and who were handed out tokens; delete them (switchboard user delete) or use a fresh data directory",
			"users", strings.Join(found, " "), "data_dir", s.Config.DataDir)
	}
	return nil
}
