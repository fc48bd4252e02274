package main

import (
	"context"
	"errors"
	"fmt"
	"io"
)

const backupHelp = `Usage: switchboard backup --out FILE [--data DIR] [--config FILE]

Writes a consistent copy of the database to FILE (a new file), also while
the server runs. The copy's secrets are sealed with the master key: keep
the key (SWITCHBOARD_MASTER_KEY or master_key_file) with the backup's
restore instructions, not beside the backup. To restore, stop the server
and put FILE in place of DIR/switchboard.db.

With store.driver postgres the database is not a file: back it up with
pg_dump (pg_dump --format=custom --file=FILE DSN); this command says so.`

type backuper interface {
	Backup(ctx context.Context, path string) error
}

func backupCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("backup", backupHelp, stderr)
	var c common
	c.register(fs)
	out := fs.String("out", "", "the file to write (must not exist)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		fmt.Fprintln(stderr, backupHelp)
		return errUsage
	}
	srv, err := openData(ctx, fs, &c)
	if err != nil {
		return err
	}
	defer srv.Close()
	b, ok := srv.Store.(backuper)
	if !ok {
		return errors.New("backup: this store cannot be backed up online")
	}
	if err := b.Backup(ctx, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Backed up to %s. Restoring it needs the master key too.\n", *out)
	return nil
}
