package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/switchboard-voice/switchboard/internal/api"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/server"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// openData opens the data directory the way serve would, for admin commands.
func openData(ctx context.Context, fs *flag.FlagSet, c *common) (*server.Server, error) {
	cfg, err := c.load(fs, nil)
	if err != nil {
		return nil, err
	}
	return server.Open(ctx, cfg, slog.New(slog.DiscardHandler))
}

// dataFlagsHelp ends the help of the admin commands that open the
// database.
const dataFlagsHelp = "Every command takes --data DIR and --config FILE to find the database.\n"

// adminCmd is one "<command> <verb> [flags]" run of an admin command:
// the verb, and a flag set holding the common flags that the command adds
// its own to before open.
type adminCmd struct {
	verb string
	rest []string
	fs   *flag.FlagSet
	c    common
}

func newAdminCmd(name, help string, args []string, stderr io.Writer) (*adminCmd, error) {
	verb, rest, err := sub(args, stderr, help)
	if err != nil {
		return nil, err
	}
	a := &adminCmd{verb: verb, rest: rest, fs: newFlagSet(name+" "+verb, help, stderr)}
	a.c.register(a.fs)
	return a, nil
}

// open parses the flags and opens the data directory.
func (a *adminCmd) open(ctx context.Context) (*server.Server, error) {
	if err := a.fs.Parse(a.rest); err != nil {
		return nil, err
	}
	return openData(ctx, a.fs, &a.c)
}

// set reports which flags were given on the command line.
func (a *adminCmd) set() map[string]bool {
	set := map[string]bool{}
	a.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func sub(args []string, stderr io.Writer, help string) (string, []string, error) {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, help)
		if len(args) == 0 {
			return "", nil, errUsage
		}
		return "", nil, flag.ErrHelp
	}
	return args[0], args[1:], nil
}

const userHelp = `Usage: switchboard user <command> [flags]

Commands:
  create --name NAME --ext EXT [--sip-username U] [--sip-password P] [--can-call-external=false] [--role admin]
  list
  update --id USER_ID [--name N] [--ext E] [--sip-password P] [--dnd=true|false] [--ring-timeout SECONDS]
         [--can-call-external=true|false] [--role user|admin]
  delete --id USER_ID

` + dataFlagsHelp

func userCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a, err := newAdminCmd("user", userHelp, args, stderr)
	if err != nil {
		return err
	}
	fs := a.fs
	id := fs.String("id", "", "user id (user_…)")
	name := fs.String("name", "", "display name")
	ext := fs.String("ext", "", "extension (2–8 digits)")
	sipUser := fs.String("sip-username", "", "SIP username for desk phones (default: the extension)")
	sipPass := fs.String("sip-password", "", "SIP password (default: generated and printed)")
	dnd := fs.Bool("dnd", false, "do-not-disturb")
	ring := fs.Int("ring-timeout", 0, "ring timeout in seconds (5–600)")
	external := fs.Bool("can-call-external", true, "may call numbers outside the account through trunks (emergency numbers always)")
	role := fs.String("role", "user", "user, or admin: the user's token may use the admin API for their account")
	srv, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer srv.Close()
	set := a.set()
	switch a.verb {
	case "create":
		u := store.User{AccountID: srv.Account, Name: *name, Extension: *ext, SIPUsername: *sipUser, SIPPassword: *sipPass,
			CanCallExternal: *external, Role: store.Role(*role)}
		if u.SIPUsername == "" {
			u.SIPUsername = u.Extension
		}
		if u.SIPPassword == "" {
			u.SIPPassword = ident.Short() + ident.Short()
		}
		if err := api.CheckUser(u); err != nil {
			return err
		}
		if err := api.CheckExtensionLength(ctx, srv.Store, u.AccountID, u.Extension); err != nil {
			return err
		}
		if err := srv.Store.CreateUser(ctx, &u); err != nil {
			return err
		}
		return printJSON(stdout, u)
	case "list":
		users, _, err := srv.Store.ListUsers(ctx, "", store.ListOptions{Limit: 200})
		if err != nil {
			return err
		}
		for _, u := range users {
			fmt.Fprintf(stdout, "%s\t%s\t%s\tsip:%s\tdnd=%v\texternal=%v\trole=%s\n", u.ID, u.Extension, u.Name, u.SIPUsername,
				u.DoNotDisturb, u.CanCallExternal, u.Role)
		}
		return nil
	case "update":
		var p store.UserPatch
		if set["name"] {
			p.Name = name
		}
		if set["ext"] {
			old, err := srv.Store.GetUser(ctx, ident.UserID(*id))
			if err != nil {
				return err
			}
			if err := api.CheckExtensionLength(ctx, srv.Store, old.AccountID, *ext); err != nil {
				return err
			}
			p.Extension = ext
		}
		if set["sip-username"] {
			if !set["sip-password"] {
				return fmt.Errorf("--sip-username needs --sip-password too: only a hash of both is stored")
			}
			p.SIPUsername = sipUser
		}
		if set["sip-password"] {
			p.SIPPassword = sipPass
		}
		if set["dnd"] {
			p.DoNotDisturb = dnd
		}
		if set["ring-timeout"] {
			p.RingTimeoutSeconds = ring
		}
		if set["can-call-external"] {
			p.CanCallExternal = external
		}
		if set["role"] {
			r := store.Role(*role)
			if !r.Valid() {
				return fmt.Errorf("--role must be user or admin, not %q", *role)
			}
			p.Role = &r
		}
		u, err := srv.Store.UpdateUser(ctx, ident.UserID(*id), p)
		if err != nil {
			return err
		}
		return printJSON(stdout, u)
	case "delete":
		return srv.Store.DeleteUser(ctx, ident.UserID(*id))
	}
	fmt.Fprint(stderr, userHelp)
	return errUsage
}

const numberHelp = `Usage: switchboard number <command> [flags]

Commands:
  create --number +E164 [--user USER_ID | --ring-group RG_ID]
  list
  route  --id PN_ID --user USER_ID        (empty --user un-routes)
  route  --id PN_ID --ring-group RG_ID    (rings a ring group instead of a user)
  delete --id PN_ID
`

func numberCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a, err := newAdminCmd("number", numberHelp, args, stderr)
	if err != nil {
		return err
	}
	fs := a.fs
	id := fs.String("id", "", "phone number id (pn_…)")
	number := fs.String("number", "", "E.164 number, e.g. +14155550100")
	user := fs.String("user", "", "user id the number rings")
	group := fs.String("ring-group", "", "ring group id the number rings (instead of a user)")
	srv, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer srv.Close()
	if *user != "" && *group != "" {
		return fmt.Errorf("a number rings a user or a ring group: give --user or --ring-group, not both")
	}
	switch a.verb {
	case "create":
		if !api.ValidE164(*number) {
			return fmt.Errorf("number %q is not E.164 (+ and 7 to 15 digits)", *number)
		}
		n := store.PhoneNumber{AccountID: srv.Account, Number: *number, UserID: ident.UserID(*user),
			RingGroupID: ident.RingGroupID(*group)}
		if err := srv.Store.CreatePhoneNumber(ctx, &n); err != nil {
			return err
		}
		return printJSON(stdout, n)
	case "list":
		nums, _, err := srv.Store.ListPhoneNumbers(ctx, "", store.ListOptions{Limit: 200})
		if err != nil {
			return err
		}
		for _, n := range nums {
			to := string(n.UserID)
			if n.RingGroupID != "" {
				to = string(n.RingGroupID)
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s\n", n.ID, n.Number, to)
		}
		return nil
	case "route":
		var p store.PhoneNumberPatch
		if a.set()["ring-group"] {
			g := ident.RingGroupID(*group)
			if err := checkNumberGroup(ctx, srv.Store, ident.PhoneNumberID(*id), g); err != nil {
				return err
			}
			p.RingGroupID = &g
		} else {
			u := ident.UserID(*user)
			p.UserID = &u
		}
		n, err := srv.Store.UpdatePhoneNumber(ctx, ident.PhoneNumberID(*id), p)
		if err != nil {
			return err
		}
		return printJSON(stdout, n)
	case "delete":
		return srv.Store.DeletePhoneNumber(ctx, ident.PhoneNumberID(*id))
	}
	fmt.Fprint(stderr, numberHelp)
	return errUsage
}

func tokenCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token", "Usage: switchboard token --user USER_ID [--ttl 24h]\n\nMints a user token (the client_secret of POST /v1/user_sessions).", stderr)
	var c common
	c.register(fs)
	user := fs.String("user", "", "user id (user_…) or extension")
	ttl := fs.Duration("ttl", 24*time.Hour, "token lifetime (at most 168h)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv, err := openData(ctx, fs, &c)
	if err != nil {
		return err
	}
	defer srv.Close()
	u, err := srv.Store.GetUser(ctx, ident.UserID(*user))
	if err != nil {
		if u, err = srv.Store.GetUserByExtension(ctx, srv.Account, *user); err != nil {
			return fmt.Errorf("user %q: %w", *user, err)
		}
	}
	if *ttl <= 0 || *ttl > 7*24*time.Hour {
		return fmt.Errorf("--ttl must be positive and at most 168h")
	}
	tok, exp, err := srv.Tokens.Mint(u, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	fmt.Fprintf(stderr, "expires %s\n", exp.UTC().Format(time.RFC3339))
	return nil
}
