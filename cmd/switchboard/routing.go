package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/switchboard-voice/switchboard/internal/api"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/route"
	"github.com/switchboard-voice/switchboard/internal/server"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// findUser resolves a user id, or an extension of account.
func findUser(ctx context.Context, st store.Users, account ident.AccountID, s string) (*store.User, error) {
	if s == "" {
		return nil, errors.New("give a user id (user_…) or an extension")
	}
	if strings.HasPrefix(s, "user_") {
		u, err := st.GetUser(ctx, ident.UserID(s))
		if err != nil {
			return nil, fmt.Errorf("user %q: %w", s, err)
		}
		return u, nil
	}
	u, err := st.GetUserByExtension(ctx, account, s)
	if err != nil {
		return nil, fmt.Errorf("no user has extension %q: %w", s, err)
	}
	return u, nil
}

// accountOf returns the account --account names, or the default one.
func accountOf(ctx context.Context, srv *server.Server, flagValue string) (ident.AccountID, error) {
	if flagValue == "" {
		return srv.Account, nil
	}
	if _, err := srv.Store.GetAccount(ctx, ident.AccountID(flagValue)); err != nil {
		return "", fmt.Errorf("--account %q: %w", flagValue, err)
	}
	return ident.AccountID(flagValue), nil
}

// checkNumberGroup refuses to route a number to a ring group of another
// account (or none).
func checkNumberGroup(ctx context.Context, st store.Store, number ident.PhoneNumberID, group ident.RingGroupID) error {
	if group == "" {
		return nil
	}
	n, err := st.GetPhoneNumber(ctx, number)
	if err != nil {
		return err
	}
	g, err := st.GetRingGroup(ctx, group)
	if err != nil {
		return err
	}
	if g.AccountID != n.AccountID {
		return fmt.Errorf("ring group %q is not in the number's account", group)
	}
	return nil
}

const dialPlanHelp = `Usage: switchboard dialplan <command> [flags]

Commands:
  show [--account ACCT_ID]
  set  [--account ACCT_ID] [--country CC] [--extension-length N] [--emergency 911,112]
       [--emergency-trunk NAME] [--international-allow +44,+33] [--max-outbound N]

set changes only the flags given. --country "" refuses national numbers,
--extension-length 0 accepts any 2 to 8 digits, --international-allow +
allows every country, --max-outbound 0 is no cap.
` + dataFlagsHelp

func dialPlanCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a, err := newAdminCmd("dialplan", dialPlanHelp, args, stderr)
	if err != nil {
		return err
	}
	fs := a.fs
	account := fs.String("account", "", "account id (default: the default account)")
	country := fs.String("country", "", "ISO 3166 country national numbers are dialled in (e.g. US, GB)")
	extLen := fs.Int("extension-length", 0, "digits of the account's extensions (0: any 2 to 8)")
	emergency := fs.String("emergency", "", "comma-separated emergency numbers, always allowed (e.g. 911,112)")
	emergencyTrunk := fs.String("emergency-trunk", "", "trunk emergency calls take (empty: any that carries them)")
	intl := fs.String("international-allow", "", "comma-separated E.164 prefixes callers may reach abroad (+ for all)")
	maxOut := fs.Int("max-outbound", 0, "most concurrent calls through trunks (0: no cap)")
	srv, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer srv.Close()
	acct, err := accountOf(ctx, srv, *account)
	if err != nil {
		return err
	}
	p, err := srv.Store.GetDialPlan(ctx, acct)
	if err != nil {
		return err
	}
	switch a.verb {
	case "show":
		return printDialPlan(stdout, p)
	case "set":
		set := a.set()
		oldLen := p.ExtensionLength
		if set["country"] {
			p.Country = *country
		}
		if set["extension-length"] {
			p.ExtensionLength = *extLen
		}
		if set["emergency"] {
			p.EmergencyNumbers = splitList(*emergency)
		}
		if set["emergency-trunk"] {
			p.EmergencyTrunk = *emergencyTrunk
		}
		if set["international-allow"] {
			p.InternationalAllow = splitList(*intl)
		}
		if set["max-outbound"] {
			p.MaxOutboundCalls = *maxOut
		}
		var names []string // the trunk is checked when it changes
		if set["emergency-trunk"] {
			var config []string
			for _, t := range srv.Config.Trunks {
				config = append(config, t.Name)
			}
			if names, err = api.TrunkNames(ctx, srv.Store, config); err != nil {
				return err
			}
		}
		if err := api.CheckDialPlan(p, names); err != nil {
			return err
		}
		if p.ExtensionLength != oldLen {
			if err := api.CheckExtensionsFit(ctx, srv.Store, acct, p.ExtensionLength); err != nil {
				return err
			}
		}
		if err := srv.Store.PutDialPlan(ctx, p); err != nil {
			return err
		}
		return printDialPlan(stdout, p)
	}
	fmt.Fprint(stderr, dialPlanHelp)
	return errUsage
}

func printDialPlan(w io.Writer, p *store.DialPlan) error {
	or := func(s, none string) string {
		if s == "" {
			return none
		}
		return s
	}
	ext := "any 2 to 8 digits"
	if p.ExtensionLength > 0 {
		ext = fmt.Sprintf("%d digits", p.ExtensionLength)
	}
	maxOut := "no cap"
	if p.MaxOutboundCalls > 0 {
		maxOut = strconv.Itoa(p.MaxOutboundCalls)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "account\t%s\n", p.AccountID)
	fmt.Fprintf(tw, "extension length\t%s\n", ext)
	fmt.Fprintf(tw, "country\t%s\n", or(p.Country, "none (numbers must be dialled in E.164)"))
	fmt.Fprintf(tw, "emergency numbers\t%s\n", or(strings.Join(p.EmergencyNumbers, ","), "none"))
	fmt.Fprintf(tw, "emergency trunk\t%s\n", or(p.EmergencyTrunk, "any that carries the number"))
	fmt.Fprintf(tw, "international allow\t%s\n", or(strings.Join(p.InternationalAllow, ","), "none"))
	fmt.Fprintf(tw, "max outbound calls\t%s\n", maxOut)
	return tw.Flush()
}

const followMeHelp = `Usage: switchboard followme <command> --user USER_ID|EXT [flags]

Commands:
  show  --user U
  set   --user U --step TARGETS[:SECONDS] [--step …]… [--final-forward DEST]
  clear --user U

A step rings its comma-separated targets at once for SECONDS (5 to 300,
default 20): "devices" (the user's own browsers and desk phones), an
extension, or a phone number. Steps ring one after the other; when all
fail, the call goes to --final-forward, or ends with no-answer. Example:
  switchboard followme set --user 101 --step devices:15 --step devices,102,+14155550100:20 --final-forward 200
` + dataFlagsHelp

func followMeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a, err := newAdminCmd("followme", followMeHelp, args, stderr)
	if err != nil {
		return err
	}
	fs := a.fs
	userFlag := fs.String("user", "", "user id (user_…) or extension")
	var steps []store.FollowMeStep
	fs.Func("step", `targets and ring seconds, e.g. "devices,102:20" (repeat for more steps)`, func(s string) error {
		st, err := parseStep(s)
		if err == nil {
			steps = append(steps, st)
		}
		return err
	})
	final := fs.String("final-forward", "", "where the call goes when every step fails (empty: no-answer)")
	srv, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer srv.Close()
	if a.verb != "show" && a.verb != "set" && a.verb != "clear" {
		fmt.Fprint(stderr, followMeHelp)
		return errUsage
	}
	u, err := findUser(ctx, srv.Store, srv.Account, *userFlag)
	if err != nil {
		return err
	}
	switch a.verb {
	case "show":
		f, err := srv.Store.GetFollowMe(ctx, u.ID)
		if errors.Is(err, store.ErrNotFound) {
			fmt.Fprintf(stdout, "%s (%s) has no follow-me: their devices ring\n", u.Name, u.Extension)
			return nil
		}
		if err != nil {
			return err
		}
		return printFollowMe(stdout, u, f)
	case "set":
		if len(steps) == 0 {
			return errors.New(`give at least one --step, e.g. --step devices:20`)
		}
		f := store.FollowMe{UserID: u.ID, Steps: steps, FinalForward: *final}
		if err := api.CheckFollowMe(&f); err != nil {
			return err
		}
		if err := srv.Store.PutFollowMe(ctx, &f); err != nil {
			return err
		}
		return printFollowMe(stdout, u, &f)
	default: // clear
		err := srv.Store.DeleteFollowMe(ctx, u.ID)
		if errors.Is(err, store.ErrNotFound) {
			err = nil // already clear
		}
		return err
	}
}

// parseStep reads "target,target:seconds" (seconds default 20).
func parseStep(s string) (store.FollowMeStep, error) {
	st := store.FollowMeStep{RingSeconds: 20}
	targets := s
	if i := strings.LastIndex(s, ":"); i >= 0 {
		targets = s[:i]
		n, err := strconv.Atoi(s[i+1:])
		if err != nil {
			return st, fmt.Errorf("ring seconds %q after the colon is not a number", s[i+1:])
		}
		st.RingSeconds = n
	}
	st.Targets = splitList(targets)
	if len(st.Targets) == 0 {
		return st, errors.New(`no targets: want e.g. "devices,102:20"`)
	}
	return st, nil
}

func printFollowMe(w io.Writer, u *store.User, f *store.FollowMe) error {
	fmt.Fprintf(w, "follow-me of %s (%s, %s):\n", u.Name, u.Extension, u.ID)
	for i, st := range f.Steps {
		fmt.Fprintf(w, "  step %d: ring %s for %d s\n", i+1, strings.Join(st.Targets, ", "), st.RingSeconds)
	}
	if f.FinalForward == "" {
		fmt.Fprintln(w, "  then: end with no-answer")
	} else {
		fmt.Fprintf(w, "  then: forward to %s\n", f.FinalForward)
	}
	return nil
}

const ringGroupHelp = `Usage: switchboard ringgroup <command> [flags]

Commands:
  create --name NAME --members 101,102|USER_ID,… [--ext EXT] [--ring-seconds 30] [--next DEST]
  list
  update --id RG_ID [--name N] [--members …] [--ext EXT] [--ring-seconds S] [--next DEST]
  delete --id RG_ID

A ring group rings its members' devices at once for --ring-seconds (5 to
300), then goes to --next (a destination) or ends with no-answer.
Members are user ids or extensions. Route a number to a group with
"switchboard number route --id PN_ID --ring-group RG_ID".
` + dataFlagsHelp

func ringGroupCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a, err := newAdminCmd("ringgroup", ringGroupHelp, args, stderr)
	if err != nil {
		return err
	}
	fs := a.fs
	id := fs.String("id", "", "ring group id (rg_…)")
	name := fs.String("name", "", "name")
	ext := fs.String("ext", "", "extension (2–8 digits; empty for none)")
	members := fs.String("members", "", "comma-separated user ids or extensions (1 to 50)")
	ring := fs.Int("ring-seconds", 30, "how long the members ring (5–300)")
	next := fs.String("next", "", "where an unanswered call goes (empty: no-answer)")
	srv, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer srv.Close()
	set := a.set()
	fill := func(g *store.RingGroup) error {
		if set["name"] {
			g.Name = strings.TrimSpace(*name)
		}
		if set["ext"] {
			g.Extension = *ext
		}
		if set["ring-seconds"] {
			g.RingSeconds = *ring
		}
		if set["next"] {
			g.Next = *next
		}
		if set["members"] {
			g.Members = nil
			for _, m := range splitList(*members) {
				u, err := findUser(ctx, srv.Store, g.AccountID, m)
				if err != nil {
					return fmt.Errorf("--members: %w", err)
				}
				g.Members = append(g.Members, u.ID)
			}
		}
		return api.CheckRingGroup(ctx, srv.Store, g)
	}
	switch a.verb {
	case "create":
		g := store.RingGroup{AccountID: srv.Account, RingSeconds: *ring}
		if err := fill(&g); err != nil {
			return err
		}
		if err := srv.Store.CreateRingGroup(ctx, &g); err != nil {
			return err
		}
		return printJSON(stdout, g)
	case "list":
		gs, _, err := srv.Store.ListRingGroups(ctx, "", store.ListOptions{Limit: 200})
		if err != nil {
			return err
		}
		for _, g := range gs {
			ids := make([]string, len(g.Members))
			for i, m := range g.Members {
				ids[i] = string(m)
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s\tmembers=%s\tring=%ds\tnext=%s\n", g.ID, g.Extension, g.Name,
				strings.Join(ids, ","), g.RingSeconds, g.Next)
		}
		return nil
	case "update":
		g, err := srv.Store.GetRingGroup(ctx, ident.RingGroupID(*id))
		if err != nil {
			return err
		}
		if err := fill(g); err != nil {
			return err
		}
		if err := srv.Store.UpdateRingGroup(ctx, g); err != nil {
			return err
		}
		return printJSON(stdout, g)
	case "delete":
		return srv.Store.DeleteRingGroup(ctx, ident.RingGroupID(*id))
	}
	fmt.Fprint(stderr, ringGroupHelp)
	return errUsage
}

const routeHelp = `Usage: switchboard route test FROM DESTINATION [--account ACCT_ID] [--config FILE]

Shows, without placing it, how a call would be routed and why. FROM is an
extension, a user id, or "trunk" (a call coming in through a trunk);
DESTINATION is what the caller dials. The trunks are the config file's
(--config) and the stored ones.
` + dataFlagsHelp

func routeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a, err := newAdminCmd("route", routeHelp, args, stderr)
	if err != nil {
		return err
	}
	if a.verb != "test" {
		fmt.Fprint(stderr, routeHelp)
		return errUsage
	}
	account := a.fs.String("account", "", "account id (default: the default account)")
	pos, err := parseInterspersed(a.fs, a.rest)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		fmt.Fprint(stderr, routeHelp)
		return fmt.Errorf("route test wants FROM and DESTINATION, got %d arguments", len(pos))
	}
	srv, err := openData(ctx, a.fs, &a.c)
	if err != nil {
		return err
	}
	defer srv.Close()
	acct, err := accountOf(ctx, srv, *account)
	if err != nil {
		return err
	}
	from, err := api.RouteFrom(ctx, srv.Store, acct, pos[0])
	if err != nil {
		return err
	}
	trunks, err := api.StoredTrunkInfos(ctx, srv.Store)
	if err != nil {
		return err
	}
	for _, t := range srv.Config.Trunks {
		trunks = append(trunks, route.TrunkInfo{Name: t.Name, Prefixes: t.Prefixes, Priority: t.Priority})
	}
	p := route.PlanCall(ctx, srv.Store, trunks, from, pos[1], route.Options{DefaultRing: srv.Config.Calls.RingTimeout})
	for _, l := range p.Explain {
		fmt.Fprintln(stdout, l)
	}
	return nil
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments, and returns those.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
