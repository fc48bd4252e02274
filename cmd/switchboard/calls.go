package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/switchboard-voice/switchboard/internal/config"
)

const callsHelp = `Usage: switchboard calls [--url URL] [--key KEY] [--account ID] [--once] [--interval 1s]

Shows the server's live calls like top, refreshed every second until
Ctrl-C: id, state, from → to, duration since the answer, each leg's kind
and codec, and each leg's MOS over the last 5-s window. --once prints the
list once and exits (for scripts). It reads GET /v1/calls?status=active
with the admin key: --key, else $SWITCHBOARD_ADMIN_KEY. The server is
--url, else $SWITCHBOARD_URL, else http:// and $SWITCHBOARD_LISTEN (or
127.0.0.1:8080). In a cluster each node lists the calls it owns.
`

// liveCall is what the CLI reads of GET /v1/calls?status=active.
type liveCall struct {
	ID           string    `json:"id"`
	State        string    `json:"state"`
	Transferring bool      `json:"transferring"`
	From         string    `json:"from"`
	To           string    `json:"to"`
	DurationS    *int      `json:"duration_s"`
	Node         string    `json:"node"`
	Legs         []liveLeg `json:"legs"`
}

type liveLeg struct {
	Kind    string `json:"kind"`
	Codec   string `json:"codec"`
	Quality *struct {
		MOS float64 `json:"mos"`
	} `json:"quality"`
}

type callsFlags struct {
	url, key, account string
	once              bool
	interval          time.Duration
}

func callsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("calls", callsHelp, stderr)
	var f callsFlags
	fs.StringVar(&f.url, "url", "", "the server's base URL")
	fs.StringVar(&f.key, "key", "", "admin API key (default $SWITCHBOARD_ADMIN_KEY)")
	fs.StringVar(&f.account, "account", "", "only this account's calls")
	fs.BoolVar(&f.once, "once", false, "print the live calls once and exit")
	fs.DurationVar(&f.interval, "interval", time.Second, "refresh interval")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := f.defaults(); err != nil {
		return err
	}
	if f.once {
		calls, err := fetchLiveCalls(ctx, f)
		if err != nil {
			return err
		}
		printLiveCalls(stdout, calls, time.Now())
		return nil
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return watchLiveCalls(ctx, f, stdout)
}

// defaults fills the URL and key from the environment.
func (f *callsFlags) defaults() error {
	if f.key == "" {
		f.key = os.Getenv(config.EnvAdminKey)
	}
	if f.key == "" {
		return fmt.Errorf("calls: no admin key: pass --key or set %s", config.EnvAdminKey)
	}
	if f.url == "" {
		f.url = os.Getenv("SWITCHBOARD_URL")
	}
	if f.url == "" {
		listen := os.Getenv(config.EnvListen)
		if listen == "" {
			listen = config.Default().Listen
		}
		f.url = "http://" + listen
	}
	if f.interval < 100*time.Millisecond {
		return errors.New("calls: --interval must be at least 100ms")
	}
	return nil
}

// watchLiveCalls redraws the list every interval until ctx ends; a failed
// fetch is shown and retried.
func watchLiveCalls(ctx context.Context, f callsFlags, w io.Writer) error {
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		calls, err := fetchLiveCalls(ctx, f)
		var buf bytes.Buffer
		buf.WriteString("\x1b[H\x1b[2J") // home, clear
		if err != nil {
			fmt.Fprintf(&buf, "switchboard calls: %v (retrying)\n", err)
		} else {
			printLiveCalls(&buf, calls, time.Now())
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func fetchLiveCalls(ctx context.Context, f callsFlags) ([]liveCall, error) {
	q := url.Values{"status": {"active"}}
	if f.account != "" {
		q.Set("account_id", f.account)
	}
	var calls []liveCall
	_, err := adminGet(ctx, f.url, f.key, "/v1/calls?"+q.Encode(), &calls)
	return calls, err
}

// printLiveCalls writes the table: one line per call.
func printLiveCalls(w io.Writer, calls []liveCall, now time.Time) {
	node := ""
	if len(calls) > 0 && calls[0].Node != "" {
		node = " on node " + calls[0].Node
	}
	fmt.Fprintf(w, "%d live call(s)%s at %s\n\n", len(calls), node, now.Format("15:04:05"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tFROM → TO\tDURATION\tLEGS/CODEC\tMOS")
	for _, c := range calls {
		state := c.State
		if c.Transferring {
			state = "transferring"
		}
		var legs, mos []string
		for _, l := range c.Legs {
			codec := l.Codec
			if codec == "" {
				codec = "-"
			}
			legs = append(legs, l.Kind+"/"+codec)
			if l.Quality != nil {
				mos = append(mos, fmt.Sprintf("%.2f", l.Quality.MOS))
			} else {
				mos = append(mos, "-")
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s → %s\t%s\t%s\t%s\n", c.ID, state, orDash(c.From), orDash(c.To),
			clock(c.DurationS), orDash(strings.Join(legs, " ")), orDash(strings.Join(mos, " ")))
	}
	_ = tw.Flush()
}

// clock formats a duration in seconds as m:ss or h:mm:ss; "-" for none.
func clock(s *int) string {
	if s == nil {
		return "-"
	}
	d := time.Duration(*s) * time.Second
	if d >= time.Hour {
		return fmt.Sprintf("%d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
	}
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
