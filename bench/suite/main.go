// Command suite runs the performance benchmarks in one invocation and
// prints one table: each path's figure, the baseline measured in the same
// run (a bare UDP relay; rtpengine when installed), the ratio, and the
// goal it is held to (issue "Performance"). The tools it runs print their
// own detail first:
//
//   - bench/relay: SIP↔SIP media (our RTP legs and bridge) against a bare
//     Go UDP relay and rtpengine (userspace), per packet;
//   - bench/load: WebRTC↔WebRTC Opus passthrough and WebRTC↔PCMU
//     transcoded calls through a real server; WebRTC and SIP (digest)
//     call setup rates; idle authenticated sockets.
//
// The server (or relay) runs pinned to core 0 and the load on the others
// when taskset and two cores exist. A full run writes the table as
// Markdown to bench/results/ with the machine's description; -quick runs
// small loads in under two minutes, for a developer:
//
//	go run ./bench/suite -quick
//	go run ./bench/suite                   # about 10 minutes
//	go run ./bench/suite -profile DIR      # also CPU and heap profiles
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// plan is what one run measures.
type plan struct {
	relayCalls    string
	relayRuns     int
	window        time.Duration
	webrtcCalls   []int
	pcmuCalls     int
	webrtcRate    float64
	sipRate       float64
	idleSockets   int
	setupDuration time.Duration
}

var (
	full  = plan{"50,100,300", 3, 10 * time.Second, []int{50, 100}, 50, 80, 350, 10000, 10 * time.Second}
	quick = plan{"50", 1, 3 * time.Second, []int{20}, 10, 10, 50, 1000, 4 * time.Second}
)

// figure is one JSON result line of a tool.
type figure map[string]any

func (f figure) num(k string) float64 { v, _ := f[k].(float64); return v }

func main() {
	q := flag.Bool("quick", false, "small loads, under two minutes")
	out := flag.String("out", "", "write the table as Markdown here (default for a full run: bench/results/<date>-<host>.md)")
	profile := flag.String("profile", "", "save server CPU and heap profiles (and the relay's) to this directory")
	search := flag.Bool("search", false, "instead: the capacity search of every path (the knee: most calls with loss ≤ 0.5 % and, for relays, transit p99 ≤ 20 ms)")
	flag.Parse()
	if *search {
		if err := searchAll(); err != nil {
			fmt.Fprintln(os.Stderr, "suite:", err)
			os.Exit(1)
		}
		return
	}
	p := full
	if *q {
		p = quick
	}
	if err := run(p, *q, *out, *profile); err != nil {
		fmt.Fprintln(os.Stderr, "suite:", err)
		os.Exit(1)
	}
}

func run(p plan, isQuick bool, out, profile string) error {
	tmp, err := os.MkdirTemp("", "switchboard-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bins, err := buildAll(tmp)
	if err != nil {
		return err
	}
	if profile != "" {
		if err := os.MkdirAll(profile, 0o755); err != nil {
			return err
		}
	}
	started := time.Now()
	var figs []figure
	tool := func(args ...string) error {
		f, err := runTool(args...)
		figs = append(figs, f...)
		return err
	}
	secs := strconv.Itoa(int(p.window.Seconds())) + "s"
	// The relays also run at the WebRTC call counts: their baseline.
	relayCalls := strings.Split(p.relayCalls, ",")
	for _, n := range p.webrtcCalls {
		if !slices.Contains(relayCalls, strconv.Itoa(n)) {
			relayCalls = append(relayCalls, strconv.Itoa(n))
		}
	}
	relayArgs := []string{bins["relay"], "-json", "-calls", strings.Join(relayCalls, ","), "-duration", secs, "-runs", strconv.Itoa(p.relayRuns)}
	if profile != "" {
		relayArgs = append(relayArgs, "-profile", profile)
	}
	if err := tool(relayArgs...); err != nil {
		return err
	}
	load := func(extra ...string) error {
		args := append([]string{bins["load"], "-json", "-bin", bins["switchboard"]}, extra...)
		return tool(args...)
	}
	for i, n := range p.webrtcCalls {
		args := []string{"-calls", strconv.Itoa(n), "-duration", secs}
		if profile != "" && i == len(p.webrtcCalls)-1 {
			args = append(args, "-profile", profile) // the highest load
		}
		if err := load(args...); err != nil {
			return err
		}
	}
	if err := load("-calls", strconv.Itoa(p.pcmuCalls), "-duration", secs, "-codec", "pcmu"); err != nil {
		return err
	}
	setup := strconv.Itoa(int(p.setupDuration.Seconds())) + "s"
	if err := load("-rate", strconv.FormatFloat(p.webrtcRate, 'f', -1, 64), "-duration", setup); err != nil {
		return err
	}
	if err := load("-sip-rate", strconv.FormatFloat(p.sipRate, 'f', -1, 64), "-duration", setup); err != nil {
		return err
	}
	if err := load("-idle", strconv.Itoa(p.idleSockets)); err != nil {
		return err
	}
	table := summarize(figs)
	fmt.Printf("\nsummary (%s, %s)\n\n%s", time.Since(started).Round(time.Second), machine(), table)
	if out == "" && !isQuick {
		host, _ := os.Hostname()
		out = filepath.Join("bench", "results", time.Now().UTC().Format("2006-01-02")+"-"+host+".md")
	}
	if out == "" {
		return nil
	}
	doc := fmt.Sprintf("# make bench, %s\n\n%s. Windows of %s; relay figures are medians of %d runs.\n\n%s",
		time.Now().UTC().Format(time.DateOnly), machine(), p.window, p.relayRuns, table)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	fmt.Println("\nwritten to", out)
	return os.WriteFile(out, []byte(doc), 0o644)
}

// runTool runs a tool, passing its output through and collecting its JSON
// result lines.
func runTool(args ...string) ([]figure, error) {
	fmt.Printf("\n$ %s\n", strings.Join(append([]string{filepath.Base(args[0])}, args[1:]...), " "))
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var figs []figure
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		var f figure
		if strings.HasPrefix(line, "{") && json.Unmarshal([]byte(line), &f) == nil {
			figs = append(figs, f)
			continue
		}
		fmt.Println(line)
	}
	if err := cmd.Wait(); err != nil {
		return figs, fmt.Errorf("%s: %w", filepath.Base(args[0]), err)
	}
	return figs, nil
}

// machine describes where the figures were taken.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	pin := "not pinned"
	if _, err := exec.LookPath("taskset"); err == nil && runtime.NumCPU() >= 2 {
		pin = "server/relay pinned to core 0, load on the others"
	}
	return fmt.Sprintf("%s, %d cores, %s, %s", model, runtime.NumCPU(), runtime.Version(), pin)
}

// searchAll runs the capacity search of each path and prints the knees.
func searchAll() error {
	tmp, err := os.MkdirTemp("", "switchboard-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bins, err := buildAll(tmp)
	if err != nil {
		return err
	}
	var figs []figure
	for _, args := range [][]string{
		{bins["relay"], "-json", "-search", "-duration", "10s"},
		{bins["load"], "-json", "-bin", bins["switchboard"], "-search", "-calls", "20", "-duration", "10s"},
		{bins["load"], "-json", "-bin", bins["switchboard"], "-search", "-calls", "20", "-duration", "10s", "-codec", "pcmu"},
	} {
		f, err := runTool(args...)
		figs = append(figs, f...)
		if err != nil {
			return err
		}
	}
	fmt.Printf("\nknees (%s)\n\n| path | most calls, loss ≤ 0.5 %% |\n|---|---|\n", machine())
	for _, f := range figs {
		if p, _ := f["path"].(string); strings.HasPrefix(p, "knee-") {
			fmt.Printf("| %s | %d |\n", strings.TrimPrefix(p, "knee-"), int(f.num("calls")))
		}
	}
	return nil
}

// buildAll builds the server, the load generator and the relays into dir
// and returns their paths by name.
func buildAll(dir string) (map[string]string, error) {
	bins := map[string]string{}
	for name, pkg := range map[string]string{"switchboard": "./cmd/switchboard", "load": "./bench/load", "relay": "./bench/relay"} {
		bins[name] = filepath.Join(dir, name)
		if b, err := exec.Command("go", "build", "-o", bins[name], pkg).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build %s: %v\n%s", pkg, err, b)
		}
	}
	return bins, nil
}
