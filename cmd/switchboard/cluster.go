package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"text/tabwriter"
	"time"
)

const clusterHelp = `Usage: switchboard cluster status [--url URL] [--admin-key KEY] [--json]

Asks a running node (GET /v1/cluster/nodes, with the admin key) for the
live nodes of its cluster and prints them: calls and their ceiling,
draining, CPU, whether each answered a status request and how fast.

--url defaults to the config's listen address (http, or https with tls);
--admin-key to SWITCHBOARD_ADMIN_KEY.
`

// clusterNode is one node as GET /v1/cluster/nodes lists it.
type clusterNode struct {
	Node      string    `json:"node"`
	Self      bool      `json:"self"`
	Reachable bool      `json:"reachable"`
	RTTMillis *float64  `json:"rtt_ms"`
	Error     string    `json:"error"`
	Calls     int       `json:"calls"`
	MaxCalls  int       `json:"max_calls"`
	Draining  bool      `json:"draining"`
	CPU       float64   `json:"cpu"`
	MaxCPU    float64   `json:"max_cpu"`
	Room      string    `json:"room"`
	HTTP      string    `json:"http"`
	SIP       string    `json:"sip"`
	StartedAt time.Time `json:"started_at"`
}

func clusterCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	verb, rest, err := sub(args, stderr, clusterHelp)
	if err != nil {
		return err
	}
	if verb != "status" {
		fmt.Fprintf(stderr, "switchboard cluster: unknown command %q\n\n%s", verb, clusterHelp)
		return errUsage
	}
	fs := newFlagSet("cluster status", clusterHelp, stderr)
	var c common
	c.register(fs)
	base := fs.String("url", "", "the node's base URL (default from the config's listen address)")
	key := fs.String("key", "", "the admin API key (default $SWITCHBOARD_ADMIN_KEY)")
	asJSON := fs.Bool("json", false, "print the nodes as JSON")
	if err := fs.Parse(rest); err != nil {
		return err
	}
	cfg, err := c.load(fs, nil)
	if err != nil {
		return err
	}
	if *base == "" {
		*base = baseURL(cfg.Listen, cfg.TLS.Enabled())
	}
	if *key == "" {
		*key = cfg.AdminKey
	}
	if *key == "" {
		return errors.New("cluster status: no admin key: pass --key or set SWITCHBOARD_ADMIN_KEY")
	}
	nodes, raw, err := fetchNodes(ctx, *base, *key)
	if err != nil {
		return err
	}
	if *asJSON {
		_, err := stdout.Write(raw)
		return err
	}
	return printNodes(stdout, nodes, time.Now())
}

// baseURL is the URL of a listen address, on loopback when it binds all.
func baseURL(listen string, tls bool) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		host, port = listen, "80"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

func fetchNodes(ctx context.Context, base, key string) ([]clusterNode, []byte, error) {
	var nodes []clusterNode
	raw, err := adminGet(ctx, base, key, "/v1/cluster/nodes", &nodes)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster status: %w", err)
	}
	return nodes, raw, nil
}

// printNodes writes the nodes as a table.
func printNodes(w io.Writer, nodes []clusterNode, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tCALLS\tMAX\tDRAINING\tCPU\tMAX CPU\tFULL: TO\tREACHABLE\tRTT\tHTTP\tSIP\tUP")
	for _, n := range nodes {
		name := n.Node
		if n.Self {
			name += " *"
		}
		ceiling, cpuCeiling, room, rtt, reach := "-", "-", "-", "-", "yes"
		if n.MaxCalls > 0 {
			ceiling = fmt.Sprint(n.MaxCalls)
		}
		if n.MaxCPU > 0 {
			cpuCeiling = fmt.Sprintf("%.0f%%", n.MaxCPU*100)
		}
		if n.Room != "" {
			room = n.Room
		}
		if n.RTTMillis != nil {
			rtt = fmt.Sprintf("%.1fms", *n.RTTMillis)
		}
		if !n.Reachable {
			reach = "no"
			if n.Error != "" {
				reach = "no: " + n.Error
			}
		}
		up := "-"
		if !n.StartedAt.IsZero() {
			up = now.Sub(n.StartedAt).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%t\t%.0f%%\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, n.Calls, ceiling, n.Draining,
			n.CPU*100, cpuCeiling, room, reach, rtt, n.HTTP, n.SIP, up)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d live node(s); * is the node asked\n", len(nodes))
	return err
}
