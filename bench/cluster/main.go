// Command cluster measures what the cluster hop costs: it starts a
// nats-server (JetStream, temp dir) and 1, then 2, then 3 switchboard
// processes on loopback in cluster mode, places concurrent softphone
// calls spread round-robin over the nodes (caller on node i, callee on
// node i+1, so with more than one node every call crosses nodes: the
// caller's node owns the call and anchors its media, the callee's node
// relays its signalling over NATS), and prints call setup latency, audio
// both ways, and each node's CPU per call against its own idle baseline.
// The 1-node run is the baseline of the same run.
//
//	go run ./bench/cluster -calls 20 -duration 10s
//	go run ./bench/cluster -quick
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/bench/internal/proc"
	"github.com/switchboard-voice/switchboard/bench/internal/setup"
	"github.com/switchboard-voice/switchboard/softphone"
)

func main() {
	calls := flag.Int("calls", 20, "concurrent calls per cluster size")
	duration := flag.Duration("duration", 10*time.Second, "how long calls stay up (and each idle baseline lasts)")
	quick := flag.Bool("quick", false, "6 calls for 3 s (unless -calls/-duration are given)")
	maxNodes := flag.Int("nodes", 3, "largest cluster size (1…nodes are run)")
	bin := flag.String("bin", "", "switchboard binary (default: build one)")
	flag.Parse()
	if *quick {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["calls"] {
			*calls = 6
		}
		if !set["duration"] {
			*duration = 3 * time.Second
		}
	}
	if err := run(*calls, *maxNodes, *duration, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

func run(calls, maxNodes int, d time.Duration, bin string) error {
	tmp, err := os.MkdirTemp("", "switchboard-cluster-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if bin == "" {
		bin = filepath.Join(tmp, "switchboard")
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/switchboard").CombinedOutput(); err != nil {
			return fmt.Errorf("build: %v\n%s", err, out)
		}
	}
	seedDir, users, err := seed(bin, tmp, 2*calls)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	fmt.Printf("switchboard cluster: %d calls for %s on 1…%d nodes (one nats-server, SQLite copies per node)\n", calls, d, maxNodes)
	var rows []row
	var failed error
	for size := 1; size <= maxNodes; size++ {
		r, err := runSize(bin, filepath.Join(tmp, fmt.Sprintf("size%d", size)), seedDir, users, size, calls, d)
		if err != nil {
			return fmt.Errorf("%d nodes: %w", size, err)
		}
		r.print()
		rows = append(rows, r)
		if r.answered < calls || r.heard < calls {
			failed = fmt.Errorf("%d nodes: %d of %d calls answered, %d with audio both ways", size, r.answered, calls, r.heard)
		}
	}
	printTable(rows)
	return failed
}

// pair is one call: a caller phone on one node, a callee phone on another.
type pair struct {
	caller, callee       *softphone.Phone
	callerNode, calleeNd int
	calleeExt            string
	out, in              *softphone.Call
}

// row is one cluster size's result.
type row struct {
	nodes, calls, answered, heard, cross int
	p50, p99                             time.Duration
	perNode                              []nodeCPU
	total                                float64 // ms of CPU a second, summed over nodes, per call
	nats                                 float64 // the nats-server's, per call
}

// nodeCPU is one node's busy CPU (loaded minus idle, ms a second) and the
// calls it owns and relays.
type nodeCPU struct {
	id              string
	busy            float64
	owned, relayed  int
	idlePct, rssMiB float64
}

func (c nodeCPU) perCall() float64 {
	if c.owned+c.relayed == 0 {
		return 0
	}
	return c.busy / float64(c.owned+c.relayed)
}

// runSize starts size nodes, measures them idle for d, then with calls
// calls up for d.
func runSize(bin, dir, seedDir string, users []string, size, calls int, d time.Duration) (r row, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return row{}, err
	}
	ns, nodes, err := startCluster(bin, dir, seedDir, size)
	if err != nil {
		return row{}, err
	}
	defer func() {
		stopAll(ns, nodes)
		if err != nil || r.heard < calls {
			for _, n := range nodes {
				fmt.Fprintf(os.Stderr, "%s's log:\n%s", n.id, tail(n.log.String(), 4000))
			}
		}
	}()

	natsPid := ns.cmd.Process.Pid
	natsIdle, _ := proc.Stat(natsPid)
	idle := cpuOf(nodes)
	time.Sleep(d) // the baseline: the same nodes, idle, for the same time
	idle = since(nodes, idle)
	natsIdle = first(proc.Stat(natsPid)) - natsIdle

	pairs, err := connectPairs(nodes, users, calls)
	defer func() {
		for _, p := range pairs {
			p.close()
		}
	}()
	if err != nil {
		return row{}, err
	}
	setups, _ := setup.All(pairs, (*pair).setup)
	natsLoaded, _ := proc.Stat(natsPid)
	loaded := cpuOf(nodes)
	time.Sleep(d)
	loaded = since(nodes, loaded)
	natsLoaded = first(proc.Stat(natsPid)) - natsLoaded

	r = row{nodes: size, calls: calls, answered: len(setups)}
	for _, p := range pairs {
		if p.in != nil && p.out != nil && p.in.Detector().Level(440) > 0.5 && p.out.Detector().Level(1000) > 0.5 {
			r.heard++
		}
		if p.callerNode != p.calleeNd {
			r.cross++
		}
	}
	for _, p := range pairs {
		if p.out != nil {
			_ = p.out.Hangup()
		}
	}
	r.p50, r.p99 = percentile(setups, 0.5), percentile(setups, 0.99)
	ms := func(c time.Duration) float64 { return float64(c.Milliseconds()) / d.Seconds() }
	r.account(nodes, pairs, idle, loaded, ms)
	if calls > 0 {
		r.nats = (ms(natsLoaded) - ms(natsIdle)) / float64(calls)
	}
	return r, nil
}

// account fills in each node's CPU above its idle baseline (ms/s) per
// call it owns or relays, and the total per call.
func (r *row) account(nodes []*node, pairs []*pair, idle, loaded []sample, ms func(time.Duration) float64) {
	var busy float64
	for i, n := range nodes {
		c := nodeCPU{id: n.id, busy: ms(loaded[i].cpu) - ms(idle[i].cpu), idlePct: ms(idle[i].cpu) / 10,
			rssMiB: float64(loaded[i].rss) / (1 << 20)}
		for _, p := range pairs {
			if p.callerNode == i {
				c.owned++
			} else if p.calleeNd == i {
				c.relayed++
			}
		}
		busy += c.busy
		r.perNode = append(r.perNode, c)
	}
	if r.calls > 0 {
		r.total = busy / float64(r.calls)
	}
}

type sample struct {
	cpu time.Duration
	rss int64
}

func cpuOf(nodes []*node) []sample {
	out := make([]sample, len(nodes))
	for i, n := range nodes {
		out[i].cpu, out[i].rss = proc.Stat(n.pid())
	}
	return out
}

// since returns each node's CPU used since then and its RSS now.
func since(nodes []*node, then []sample) []sample {
	now := cpuOf(nodes)
	for i := range now {
		now[i].cpu -= then[i].cpu
	}
	return now
}

// connectPairs connects calls caller/callee phone pairs: call i's caller
// on node i mod N, its callee on node i+1 mod N, each with a token minted
// on its own node; it waits until each caller's node sees its callee.
func connectPairs(nodes []*node, users []string, calls int) ([]*pair, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var pairs []*pair
	connect := func(n *node, user string, freq float64) (*softphone.Phone, error) {
		tok, err := n.token(user)
		if err != nil {
			return nil, err
		}
		return softphone.Connect(ctx, softphone.Config{URL: n.wsURL(), Token: tok, Codec: audio.Opus,
			Source: audio.NewTone(freq, softphone.SourceRate, 0.3)})
	}
	for i := 0; i < calls; i++ {
		p := &pair{callerNode: i % len(nodes), calleeNd: (i + 1) % len(nodes), calleeExt: fmt.Sprint(5001 + 2*i)}
		var err error
		if p.caller, err = connect(nodes[p.callerNode], users[2*i], 440); err != nil {
			return pairs, err
		}
		pairs = append(pairs, p)
		if p.callee, err = connect(nodes[p.calleeNd], users[2*i+1], 1000); err != nil {
			return pairs, err
		}
	}
	for i, p := range pairs {
		if err := waitFor(15*time.Second, func() error { return located(nodes[p.callerNode], users[2*i+1]) }); err != nil {
			return pairs, err
		}
	}
	return pairs, nil
}

func (p *pair) close() {
	if p.caller != nil {
		_ = p.caller.Close()
	}
	if p.callee != nil {
		_ = p.callee.Close()
	}
}

func (p *pair) setup() (time.Duration, error) {
	out, in, took, err := setup.Call(p.caller, p.callee, p.calleeExt)
	p.out, p.in = out, in
	return took, err
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(p*float64(len(s)-1))]
}

func (r row) print() {
	fmt.Printf("\n%d node(s): %d/%d calls answered, audio both ways in %d, %d cross-node; setup p50 %v p99 %v\n",
		r.nodes, r.answered, r.calls, r.heard, r.cross, r.p50.Round(time.Millisecond), r.p99.Round(time.Millisecond))
	for _, c := range r.perNode {
		fmt.Printf("  %-3s owns %2d relays %2d  idle %.1f%% of a core  busy %.1f ms/s  per call %.2f ms/s  RSS %.0f MiB\n",
			c.id, c.owned, c.relayed, c.idlePct, c.busy, c.perCall(), c.rssMiB)
	}
	fmt.Printf("  total busy CPU per call %.2f ms/s (%.2f%% of a core); nats-server %.2f ms/s per call\n", r.total, r.total/10, r.nats)
}

// printTable prints one line per cluster size; CPU is milliseconds of
// CPU a second (10 ms/s = 1% of a core) above each node's idle baseline.
func printTable(rows []row) {
	fmt.Println("\nnodes | calls | cross-node | setup p50 / p99 | CPU per call per node (ms/s) | total CPU per call (ms/s, × 1 node) | nats-server per call")
	fmt.Println("------|-------|------------|-----------------|------------------------------|-------------------------------------|---------------------")
	var base float64
	for _, r := range rows {
		if r.nodes == 1 {
			base = r.total
		}
		var per []string
		for _, c := range r.perNode {
			per = append(per, fmt.Sprintf("%s %.2f", c.id, c.perCall()))
		}
		ratio := "—"
		if base > 0 {
			ratio = fmt.Sprintf("× %.2f", r.total/base)
		}
		fmt.Printf("%5d | %5d | %9.0f%% | %6v / %-6v | %-28s | %-35s | %.2f\n", r.nodes, r.calls,
			100*float64(r.cross)/float64(max(r.calls, 1)), r.p50.Round(time.Millisecond), r.p99.Round(time.Millisecond),
			strings.Join(per, ", "), fmt.Sprintf("%.2f (%s)", r.total, ratio), r.nats)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func first(d time.Duration, _ int64) time.Duration { return d }
