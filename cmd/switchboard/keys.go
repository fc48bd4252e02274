package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/switchboard-voice/switchboard/internal/auth"
	"github.com/switchboard-voice/switchboard/internal/secrets"
)

const keysHelp = `Usage: switchboard keys <command> [flags]

Commands:
  rotate [--overlap 168h]   new token signing key; tokens signed with the
                            previous key stay valid for --overlap (default:
                            the longest token lifetime; 0 ends them now)
  generate                  print a fresh master key (for SWITCHBOARD_MASTER_KEY
                            or master_key_file)

Every command but generate takes --data DIR and --config FILE.
See docs/operations.md#keys.
`

func keysCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a, err := newAdminCmd("keys", keysHelp, args, stderr)
	if err != nil {
		return err
	}
	switch a.verb {
	case "generate":
		if err := a.fs.Parse(a.rest); err != nil {
			return err
		}
		fmt.Fprintln(stdout, secrets.GenerateKey())
		return nil
	case "rotate":
		overlap := a.fs.Duration("overlap", auth.MaxTokenTTL, "how long tokens signed with the previous key stay valid")
		srv, err := a.open(ctx)
		if err != nil {
			return err
		}
		defer srv.Close()
		r, err := auth.RotateSigningKey(ctx, srv.Store, *overlap, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "New token signing key %s.\n", r.KeyID)
		if r.PreviousUntil.IsZero() {
			fmt.Fprintln(stdout, "Tokens signed with earlier keys are no longer valid.")
		} else {
			fmt.Fprintf(stdout, "Tokens signed with %s stay valid until %s.\n", r.PreviousID, r.PreviousUntil.UTC().Format(time.RFC3339))
		}
		fmt.Fprintf(stdout, "Running servers sign with the new key within %s.\n", auth.KeyReload)
		return nil
	}
	fmt.Fprint(stderr, keysHelp)
	return errUsage
}
