// Command switchboard is the Switchboard calling server and its admin CLI.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/server"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `switchboard — a self-hosted calling server

Usage:
  switchboard serve     [flags]                              run the server
  switchboard user      <create|list|update|delete> [flags]
  switchboard number    <create|list|route|delete> [flags]
  switchboard trunk     <create|list|delete> [flags]
  switchboard dialplan  <show|set> [flags]                   national numbers, emergency, allow-list, cap
  switchboard followme  <show|set|clear> --user U [flags]    find-me/follow-me steps
  switchboard ringgroup <create|list|update|delete> [flags]
  switchboard route     test FROM DESTINATION                how a call would be routed, and why
  switchboard token     --user ID [--ttl 24h]                mint a user token
  switchboard keys      <rotate|generate> [flags]            rotate the token signing key; make a master key
  switchboard backup    --out FILE [--data DIR]              an online copy of the database
  switchboard calls     [--once] [--url URL] [--key KEY]     live calls, refreshed like top
  switchboard cluster   status [--url URL] [--key KEY]       the live nodes of a running cluster
  switchboard version

Run "switchboard <command> --help" for a command's flags.
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"serve": serve, "user": userCmd, "number": numberCmd, "trunk": trunkCmd, "token": tokenCmd,
		"dialplan": dialPlanCmd, "followme": followMeCmd, "ringgroup": ringGroupCmd, "route": routeCmd,
		"keys": keysCmd, "backup": backupCmd, "calls": callsCmd, "cluster": clusterCmd,
		"version": func(context.Context, []string, io.Writer, io.Writer) error {
			fmt.Fprintln(stdout, "switchboard", version)
			return nil
		},
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
			fmt.Fprint(stdout, usage)
			return 0
		}
		fmt.Fprintf(stderr, "switchboard: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	err := cmd(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintln(stderr, "switchboard:", err)
	return 1
}

var errUsage = errors.New("usage")

// common holds the flags every command that touches the data dir shares.
type common struct {
	configFile string
	dataDir    string
	logLevel   string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.configFile, "config", "", "YAML config file (see switchboard.sample.yaml)")
	fs.StringVar(&c.dataDir, "data", "", "data directory holding the database (default ./data)")
	fs.StringVar(&c.logLevel, "log-level", "", "log level: debug, info, warn, error")
}

// load builds the config: defaults → file → env → flags (set ones only).
func (c *common) load(fs *flag.FlagSet, apply func(*config.Config)) (config.Config, error) {
	cfg := config.Default()
	if c.configFile != "" {
		if err := cfg.LoadFile(c.configFile); err != nil {
			return cfg, err
		}
	}
	if err := cfg.ApplyEnv(os.LookupEnv); err != nil {
		return cfg, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["data"] {
		cfg.DataDir = c.dataDir
	}
	if set["log-level"] {
		cfg.Log.Level = c.logLevel
	}
	if apply != nil {
		apply(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("invalid configuration:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	return cfg, nil
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func newFlagSet(name, help string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nFlags:\n", help)
		fs.PrintDefaults()
	}
	return fs
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "Usage: switchboard serve [--listen HOST:PORT] [--sip-listen HOST:PORT] [--data DIR] [--demo] [--config FILE]\n\nRuns the HTTP/WebSocket server (and SIP, once configured). SIGTERM or Ctrl-C drains: every socket gets going_away.", stderr)
	var c common
	c.register(fs)
	listen := fs.String("listen", "", "HTTP/WebSocket listen address (default 127.0.0.1:8080)")
	sipListen := fs.String("sip-listen", "", "SIP listen address, UDP and TCP (default 127.0.0.1:5060)")
	demo := fs.Bool("demo", false, "create demo users alice/101, bob/102, carol/103 and print their tokens (loopback addresses only)")
	demoPublic := fs.Bool("demo-public", false, "allow --demo on addresses other than loopback (anyone who reaches it gets a demo user's token)")
	tlsCert := fs.String("tls-cert", "", "TLS certificate file (PEM); with --tls-key enables HTTPS/WSS")
	tlsKey := fs.String("tls-key", "", "TLS private key file (PEM)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := c.load(fs, func(cfg *config.Config) {
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "listen":
				cfg.Listen = *listen
			case "sip-listen":
				cfg.SIPListen = *sipListen
			case "demo":
				cfg.Demo = *demo
			case "tls-cert":
				cfg.TLS.CertFile = *tlsCert
			case "tls-key":
				cfg.TLS.KeyFile = *tlsKey
			}
		})
	})
	if err != nil {
		return err
	}
	if err := server.CheckDemoAddresses(cfg, *demoPublic); err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	srv, err := server.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	srv.Version = version
	// In demo mode with no key from the environment, a fresh admin key is
	// made at each start so it can be printed (only its hash is stored).
	if err := srv.LoadAdminKey(ctx, cfg.Demo && cfg.AdminKey == ""); err != nil {
		srv.Close()
		return err
	}
	if err := srv.Start(ctx); err != nil {
		srv.Close()
		return err
	}
	if err := srv.WarnDemoUsers(ctx); err != nil {
		log.Warn("could not check for demo users", "err", err)
	}
	if srv.FreshAdminKey != "" {
		fmt.Fprintf(stdout, "Admin API key (shown once; only its hash is stored):\n  %s\n", srv.FreshAdminKey)
	}
	if cfg.Demo {
		if err := printDemo(ctx, srv, cfg, stdout); err != nil {
			return err
		}
	}
	select {
	case <-sigs:
	case <-ctx.Done():
	case err := <-srv.Done():
		return err
	}
	drain(srv, cfg.Shutdown.DrainTimeout, sigs, log)
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// drain lets live calls finish (new ones are refused) until the last ends,
// timeout passes, or a second signal comes; Shutdown then ends the rest
// with reason server-shutdown.
func drain(srv *server.Server, timeout time.Duration, sigs <-chan os.Signal, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	log.Info("draining: new calls and sessions are refused, live calls go on",
		"calls", srv.Calls.Count(), "timeout", timeout)
	go func() {
		select {
		case <-sigs:
			log.Warn("second signal: ending live calls now")
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := srv.Drain(ctx); err != nil {
		log.Warn("drain over with calls up: ending them", "calls", srv.Calls.Count(), "err", err)
		return
	}
	log.Info("drained: the last call has ended")
}

func printDemo(ctx context.Context, srv *server.Server, cfg config.Config, w io.Writer) error {
	users, err := srv.EnsureDemo(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nDemo users (tokens valid 24 h). Open %s/ or connect to %s\n", srv.URL(), srv.WebSocketURL())
	for _, d := range users {
		fmt.Fprintf(w, "  %-6s ext %s  id %s  SIP %s / %s\n    token: %s\n",
			d.User.Name, d.User.Extension, d.User.ID, d.User.SIPUsername, d.User.SIPPassword, d.Token)
	}
	if cfg.AdminKey != "" {
		fmt.Fprintf(w, "Admin API key: from %s\n", config.EnvAdminKey)
	}
	fmt.Fprintln(w)
	return nil
}
