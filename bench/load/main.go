// Command load places N concurrent bridged calls between pairs of softphone
// clients against a real switchboard process, and prints call setup latency
// percentiles, server CPU and memory per call, and packet loss. It first
// measures the same server idle for the same duration, so the per-call
// figures are differences against a baseline taken in the same run.
//
//	go run ./bench/load -calls 10 -duration 10s
//
// With -soak it churns calls instead (each pair calls, talks 2–6 s, hangs
// up, again) for that long, and prints the server's RSS, goroutines and
// open file descriptors at the start and the end:
//
//	go run ./bench/load -calls 4 -soak 10m
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/bench/internal/proc"
	"github.com/switchboard-voice/switchboard/bench/internal/setup"
	"github.com/switchboard-voice/switchboard/softphone"
)

const adminKey = "bench-admin-key"

var jsonOut = flag.Bool("json", false, "also print each result as a JSON line (for bench/suite)")

func main() {
	calls := flag.Int("calls", 10, "concurrent calls")
	duration := flag.Duration("duration", 10*time.Second, "how long calls stay up (and the idle baseline lasts)")
	codec := flag.String("codec", "opus", "callee codec: opus, or pcmu to make every call transcode")
	bin := flag.String("bin", "", "switchboard binary (default: build one)")
	soakFor := flag.Duration("soak", 0, "churn calls for this long and report growth (RSS, goroutines, fds)")
	flag.Float64Var(&opts.rate, "rate", 0, "instead: place WebRTC calls at this rate a second for -duration (setup latency)")
	flag.Float64Var(&opts.sipRate, "sip-rate", 0, "instead: place SIP calls with digest auth to *43 at this rate a second for -duration")
	flag.IntVar(&opts.idle, "idle", 0, "instead: open this many idle authenticated sockets (memory per socket)")
	flag.StringVar(&opts.profile, "profile", "", "save the server's CPU profile of the loaded window and a heap profile to this directory")
	searchMax := flag.Int("search-max", 5000, "with -search, the most calls tried")
	search := flag.Bool("search", false, "instead: raise -calls by half again (a fresh server each step) until a step loses more than 0.5 %, fails a call or lacks audio; print the knee")
	flag.Parse()
	if *soakFor > 0 {
		*duration = *soakFor
	}
	if *search {
		capacity(*calls, *searchMax, *duration, audio.Codec(*codec), *bin)
		return
	}
	if err := run(*calls, *duration, audio.Codec(*codec), *bin, *soakFor > 0); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

type server struct {
	cmd     *exec.Cmd
	base    string
	sipAddr string
}

// opts are the modes other than concurrent calls.
var opts struct {
	rate, sipRate float64
	idle          int
	profile       string
}

func run(n int, d time.Duration, calleeCodec audio.Codec, bin string, churn bool) error {
	tmp, err := os.MkdirTemp("", "switchboard-load-")
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
	srv, err := startServer(bin, tmp)
	if err != nil {
		return err
	}
	defer func() { _ = srv.cmd.Process.Kill(); _ = srv.cmd.Wait() }()
	if churn {
		return soak(srv, n, d)
	}
	if opts.idle > 0 {
		return idleSockets(srv, opts.idle)
	}
	if opts.rate > 0 || opts.sipRate > 0 {
		idle0, _ := proc.Stat(srv.cmd.Process.Pid)
		time.Sleep(min(d, 5*time.Second))
		idle1, _ := proc.Stat(srv.cmd.Process.Pid)
		idle := time.Duration(float64(idle1-idle0) * d.Seconds() / min(d, 5*time.Second).Seconds())
		if opts.rate > 0 {
			return setupRate(srv, opts.rate, d, idle)
		}
		return sipSetupRate(srv, srv.sipAddr, opts.sipRate, d, idle)
	}

	fmt.Printf("switchboard load: %d calls for %s, callee codec %s, server pid %d\n", n, d, calleeCodec, srv.cmd.Process.Pid)
	idleCPU0, idleRSS := proc.Stat(srv.cmd.Process.Pid)
	time.Sleep(d) // the baseline: the same server, idle, for the same time
	idleCPU1, _ := proc.Stat(srv.cmd.Process.Pid)

	pairs, err := connectPairs(srv, n, calleeCodec)
	if err != nil {
		return err
	}
	defer func() {
		for _, p := range pairs {
			p.close()
		}
	}()
	var res results
	res.setup, res.failed = setup.All(pairs, (*pair).setup)
	cpu0, _ := proc.Stat(srv.cmd.Process.Pid)
	stopProfile := srv.profile(d)
	time.Sleep(d)
	cpu1, rss := proc.Stat(srv.cmd.Process.Pid)
	stopProfile()
	heard := 0
	var sent, lost int64
	for _, p := range pairs {
		if p.in != nil && p.in.Detector().Level(440) > 0.5 && p.out.Detector().Level(1000) > 0.5 {
			heard++
		}
		if p.out != nil {
			_ = p.out.Hangup()
		}
	}
	var recs []recordJSON
	for i := 0; i < 50; i++ { // hung-up calls close their records asynchronously
		if recs, err = srv.records(); err == nil && closedWithLegs(recs) >= n {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var talked float64 // seconds of all calls from answer to end
	if err == nil {
		for _, r := range recs {
			for _, l := range r.Legs {
				sent += l.PacketsReceived
				lost += l.PacketsLost
			}
			if r.AnsweredAt != nil && r.EndedAt != nil {
				if end, err := time.Parse(time.RFC3339Nano, *r.EndedAt); err == nil {
					talked += end.Sub(*r.AnsweredAt).Seconds()
				}
			}
		}
	}
	report(n, d, res, heard, idleCPU1-idleCPU0, cpu1-cpu0, idleRSS, rss, sent, lost)
	path := "webrtc"
	if calleeCodec != audio.Opus {
		path = "webrtc-" + string(calleeCodec)
	}
	// The packets the server relayed in the window: what it received over
	// the calls' lives at the rate it received them (a load generator that
	// falls behind sends fewer than the nominal 100 a second per call).
	busy := (cpu1 - cpu0) - (idleCPU1 - idleCPU0)
	pps := float64(n) * 100
	if talked > 0 && sent > 0 {
		pps = float64(sent) / talked * float64(n)
	}
	r := Result{Path: path, Calls: n, Done: len(res.setup), Failed: res.failed,
		UsPerPacket: float64(busy.Microseconds()) / (pps * d.Seconds()),
		PctPerCall:  100 * busy.Seconds() / d.Seconds() / float64(n), KiBPerUnit: float64(rss-idleRSS) / 1024 / float64(n),
		P50Ms: percentile(res.setup, 0.5), P99Ms: percentile(res.setup, 0.99)}
	if sent+lost > 0 {
		r.LossPct = 100 * float64(lost) / float64(sent+lost)
	}
	fmt.Printf("server CPU per packet %.1f µs (%.0f packets a second relayed; nominal %d)\n", r.UsPerPacket, pps, n*100)
	emit(r)
	if res.failed > 0 || heard < n {
		return fmt.Errorf("%d calls failed, %d of %d had audio both ways", res.failed, heard, n)
	}
	return nil
}

func startServer(bin, dir string) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(dir, "load.yaml")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	sipAddr := pc.LocalAddr().String()
	pc.Close()
	if err := os.WriteFile(cfg, []byte(setup.Config), 0o600); err != nil {
		return nil, err
	}
	args := []string{bin, "serve", "--listen", addr, "--sip-listen", sipAddr, "--data", filepath.Join(dir, "data"), "--config", cfg}
	if pinned() {
		args = append([]string{"taskset", "-c", "0"}, args...) // the server on core 0, this process on the others
		_ = exec.Command("taskset", "-a", "-p", "-c", "1-"+strconv.Itoa(runtime.NumCPU()-1), strconv.Itoa(os.Getpid())).Run()
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "SWITCHBOARD_ADMIN_KEY="+adminKey)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, base: "http://" + addr, sipAddr: sipAddr}
	if setup.WaitHealthy(s.base, 100) {
		return s, nil
	}
	return nil, errors.New("server did not become healthy")
}

func (s *server) post(path string, body any, out any) error {
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", s.base+path, bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("POST %s: %s", path, b)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

type legJSON struct {
	PacketsReceived int64 `json:"packets_received"`
	PacketsLost     int64 `json:"packets_lost"`
}

type recordJSON struct {
	AnsweredAt *time.Time `json:"answered_at"`
	EndedAt    *string    `json:"ended_at"`
	Legs       []legJSON  `json:"legs"`
}

func closedWithLegs(recs []recordJSON) int {
	n := 0
	for _, r := range recs {
		if r.EndedAt != nil && len(r.Legs) > 0 {
			n++
		}
	}
	return n
}

func (s *server) records() ([]recordJSON, error) {
	req, _ := http.NewRequest("GET", s.base+"/v1/calls?limit=200", nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var list struct {
		Data []recordJSON `json:"data"`
	}
	return list.Data, json.NewDecoder(resp.Body).Decode(&list)
}

// token creates a user and returns a token for it.
func (s *server) token(name, ext string) (string, error) {
	var u struct {
		ID string `json:"id"`
	}
	if err := s.post("/v1/users", map[string]any{"name": name, "extension": ext}, &u); err != nil {
		return "", err
	}
	var sess struct {
		Secret string `json:"client_secret"`
	}
	err := s.post("/v1/user_sessions", map[string]any{"user": u.ID}, &sess)
	return sess.Secret, err
}

type pair struct {
	caller, callee *softphone.Phone
	calleeExt      string
	out, in        *softphone.Call
}

func (p *pair) close() {
	_ = p.caller.Close()
	_ = p.callee.Close()
}

func connectPairs(s *server, n int, calleeCodec audio.Codec) ([]*pair, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var pairs []*pair
	for i := 0; i < n; i++ {
		ext1, ext2 := strconv.Itoa(5000+2*i), strconv.Itoa(5001+2*i)
		t1, err := s.token("caller"+ext1, ext1)
		if err != nil {
			return nil, err
		}
		t2, err := s.token("callee"+ext2, ext2)
		if err != nil {
			return nil, err
		}
		ws := strings.Replace(s.base, "http://", "ws://", 1) + "/v1/webrtc"
		caller, err := softphone.Connect(ctx, softphone.Config{URL: ws, Token: t1, Codec: audio.Opus,
			Source: audio.NewTone(440, softphone.SourceRate, 0.3)})
		if err != nil {
			return nil, err
		}
		callee, err := softphone.Connect(ctx, softphone.Config{URL: ws, Token: t2, Codec: calleeCodec,
			Source: audio.NewTone(1000, softphone.SourceRate, 0.3)})
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, &pair{caller: caller, callee: callee, calleeExt: ext2})
	}
	return pairs, nil
}

type results struct {
	setup  []time.Duration
	failed int
}

func (p *pair) setup() (time.Duration, error) {
	out, in, took, err := setup.Call(p.caller, p.callee, p.calleeExt)
	p.out, p.in = out, in
	return took, err
}

// procStat returns the process's CPU time and resident memory.
func report(n int, d time.Duration, res results, heard int, idleCPU, cpu time.Duration, idleRSS, rss, recv, lost int64) {
	sort.Slice(res.setup, func(i, j int) bool { return res.setup[i] < res.setup[j] })
	pct := func(p float64) time.Duration {
		if len(res.setup) == 0 {
			return 0
		}
		return res.setup[int(p*float64(len(res.setup)-1))]
	}
	fmt.Printf("calls answered        %d/%d, audio both ways in %d\n", len(res.setup), n, heard)
	fmt.Printf("setup latency         p50 %v  p90 %v  p99 %v  max %v\n",
		pct(0.5).Round(time.Millisecond), pct(0.9).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), pct(1).Round(time.Millisecond))
	cpuPct := func(c time.Duration) float64 { return 100 * c.Seconds() / d.Seconds() }
	fmt.Printf("server CPU            baseline (idle) %.1f%% of a core, loaded %.1f%%, per call %.2f%%\n",
		cpuPct(idleCPU), cpuPct(cpu), (cpuPct(cpu)-cpuPct(idleCPU))/float64(n))
	fmt.Printf("server memory (RSS)   baseline %.1f MiB, loaded %.1f MiB, per call %.2f MiB\n",
		float64(idleRSS)/(1<<20), float64(rss)/(1<<20), float64(rss-idleRSS)/(1<<20)/float64(n))
	lossPct := 0.0
	if recv+lost > 0 {
		lossPct = 100 * float64(lost) / float64(recv+lost)
	}
	fmt.Printf("packet loss           %d lost of %d expected at the server (%.3f%%)\n", lost, recv+lost, lossPct)
}
