package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/switchboard-voice/switchboard/internal/api"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

const trunkHelp = `Usage: switchboard trunk <command> [flags]

Commands:
  create --name NAME --host HOST [--port 5060] [--transport udp|tcp]
         [--username U --password P] [--prefixes +1,+44] [--priority N]
         [--inbound-addresses IP,IP:PORT] [--register [--register-expires 600]]
         [--inbound-auth digest --inbound-username U --inbound-password P]
  list
  delete --id TRUNK_ID   (or --name NAME)

Stored trunks route together with the config file's. A running server
picks up trunks changed here when it restarts; the REST API
(/v1/trunks) applies changes at once. Passwords are never printed.
Over UDP a trunk's INVITEs must come from an inbound address and the
trunk's port (or the address's own port); --inbound-auth digest also
challenges them for the inbound username and password.
` + dataFlagsHelp

// trunkOut is a trunk as the CLI prints it: without its password.
type trunkOut struct {
	ID               ident.TrunkID
	Name, Host       string
	Port             int
	Transport        string
	Username         string
	Prefixes         []string
	Priority         int
	InboundAddresses []string
	InboundAuth      string
	InboundUsername  string
	Register         bool
	RegisterExpires  int
}

func trunkCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a, err := newAdminCmd("trunk", trunkHelp, args, stderr)
	if err != nil {
		return err
	}
	fs := a.fs
	id := fs.String("id", "", "trunk id (trunk_…)")
	name := fs.String("name", "", "trunk name (letters, digits, - and _)")
	host := fs.String("host", "", "where calls to the trunk go: hostname or IP")
	port := fs.Int("port", 0, "SIP port (default 5060)")
	transport := fs.String("transport", "", "udp (default) or tcp")
	username := fs.String("username", "", "digest username the trunk asks for")
	password := fs.String("password", "", "digest password")
	prefixes := fs.String("prefixes", "", "comma-separated E.164 prefixes the trunk carries (default: every number)")
	priority := fs.Int("priority", 0, "lower is tried first among equal prefixes")
	inbound := fs.String("inbound-addresses", "", "comma-separated IPs (or IP:PORT, [IPv6]:PORT) the trunk calls in from (default: the host's)")
	inboundAuth := fs.String("inbound-auth", "", "address (default: the source address is enough) or digest (challenge the trunk's INVITEs)")
	inboundUser := fs.String("inbound-username", "", "with --inbound-auth digest: the username the trunk answers with")
	inboundPass := fs.String("inbound-password", "", "with --inbound-auth digest: the password the trunk answers with")
	register := fs.Bool("register", false, "send REGISTER to the trunk (needs --username and --password)")
	expires := fs.Int("register-expires", 0, "registration expiry asked for, in seconds (default 600)")
	srv, err := a.open(ctx)
	if err != nil {
		return err
	}
	defer srv.Close()
	switch a.verb {
	case "create":
		t := store.Trunk{Name: *name, Host: *host, Port: *port, Transport: *transport, Username: *username,
			Password: *password, Prefixes: splitList(*prefixes), Priority: *priority,
			InboundAddresses: splitList(*inbound), InboundAuth: *inboundAuth, InboundUsername: *inboundUser,
			InboundPassword: *inboundPass, Register: *register, RegisterExpires: *expires}
		if err := api.CheckTrunk(&t); err != nil {
			return err
		}
		for _, ct := range srv.Config.Trunks {
			if strings.EqualFold(ct.Name, t.Name) {
				return fmt.Errorf("trunk name %q is taken by the config file", t.Name)
			}
		}
		if err := srv.Store.CreateTrunk(ctx, &t); err != nil {
			return err
		}
		return printJSON(stdout, trunkOut{ID: t.ID, Name: t.Name, Host: t.Host, Port: t.Port, Transport: t.Transport,
			Username: t.Username, Prefixes: t.Prefixes, Priority: t.Priority, InboundAddresses: t.InboundAddresses,
			InboundAuth: t.InboundAuth, InboundUsername: t.InboundUsername, Register: t.Register,
			RegisterExpires: t.RegisterExpires})
	case "list":
		ts, _, err := srv.Store.ListTrunks(ctx, store.ListOptions{Limit: 200})
		if err != nil {
			return err
		}
		for _, t := range ts {
			fmt.Fprintf(stdout, "%s\t%s\t%s:%d/%s\tprefixes=%s\tpriority=%d\tregister=%v\tinbound_auth=%s\n", t.ID, t.Name,
				t.Host, t.Port, t.Transport, strings.Join(t.Prefixes, ","), t.Priority, t.Register, t.InboundAuth)
		}
		return nil
	case "delete":
		if *id == "" && *name != "" {
			ts, _, err := srv.Store.ListTrunks(ctx, store.ListOptions{Limit: 200})
			if err != nil {
				return err
			}
			for _, t := range ts {
				if strings.EqualFold(t.Name, *name) {
					*id = string(t.ID)
				}
			}
			if *id == "" {
				return fmt.Errorf("no trunk named %q", *name)
			}
		}
		return srv.Store.DeleteTrunk(ctx, ident.TrunkID(*id))
	}
	fmt.Fprint(stderr, trunkHelp)
	return errUsage
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
