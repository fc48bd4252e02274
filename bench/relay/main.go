// Command relay measures what the server's SIP↔SIP media path costs per
// packet, against a bare UDP relay measured in the same run: the ratio is
// what to read on a noisy machine.
//
// Each mode runs in a child process (this program with -serve), pinned to
// core 0 when taskset and a second core exist, while the generator runs on
// the other core: N calls, each two "phones" sending 160-byte PCMU packets
// every 20 ms to their own port of the relay, which sends each packet on
// to the other phone. The modes:
//
//   - bare: two UDP sockets per call and a goroutine per socket that reads
//     a packet and writes it to the other side's latched source — the least
//     a userspace relay can do;
//   - bridge: two media.RTPEndpoint (what a SIP leg uses: symmetric RTP,
//     RTCP, SRTP-capable) joined by a media.Bridge, as a call between two
//     desk phones or a phone and a trunk is.
//
// It prints, per mode and call count, the packets relayed per second, the
// relay's CPU per relayed packet and per call, loss, and the transit time
// (generator send → generator receive, through the relay) p50/p99:
//
//	go run ./bench/relay -calls 100,300 -duration 10s
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/bench/internal/proc"
	"github.com/switchboard-voice/switchboard/internal/media"
)

func main() {
	serve := flag.String("serve", "", "(child) run a relay of this mode: bare or bridge")
	calls := flag.String("calls", "100,300", "concurrent calls, comma-separated")
	duration := flag.Duration("duration", 10*time.Second, "measurement window per mode and call count")
	runs := flag.Int("runs", 1, "runs per figure; the median is printed")
	out := flag.String("out", "", "also write the table as Markdown to this file")
	profile := flag.String("profile", "", "write each relay's CPU profile (<mode>-<calls>.cpu.pprof) to this directory")
	flag.BoolVar(&jsonOut, "json", false, "also print each result as a JSON line (for bench/suite)")
	search := flag.Bool("search", false, "instead: raise the calls of each mode until loss > 0.5 % or transit p99 > 20 ms, and print the knee")
	flag.Parse()
	if *serve != "" {
		if err := child(*serve, *calls, *profile); err != nil {
			fmt.Fprintln(os.Stderr, "relay:", err)
			os.Exit(1)
		}
		return
	}
	if *search {
		if err := capacity(*duration); err != nil {
			fmt.Fprintln(os.Stderr, "relay:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*calls, *duration, *runs, *out, *profile); err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		os.Exit(1)
	}
}

// result is one measurement.
type result struct {
	mode          string
	calls         int
	pps           float64 // packets relayed per second
	usPerPkt      float64 // relay CPU per relayed packet
	pctPerCall    float64 // relay CPU per call, % of a core
	lossPct       float64
	p50, p99, max time.Duration
}

func run(callList string, d time.Duration, runs int, out, profile string) error {
	var counts []int
	for _, c := range strings.Split(callList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			return fmt.Errorf("bad -calls %q", callList)
		}
		counts = append(counts, n)
	}
	pin := pinning()
	fmt.Printf("relay benchmark: %d-s windows, %d run(s) each, relay %s\n", int(d.Seconds()), runs, pin.describe())
	var rows []result
	for _, n := range counts {
		for _, mode := range modes() {
			var rs []result
			for range runs {
				r, err := measure(mode, n, d, pin, profile)
				if err != nil {
					return fmt.Errorf("%s, %d calls: %w", mode, n, err)
				}
				rs = append(rs, r)
			}
			slices.SortFunc(rs, func(a, b result) int { return int(a.usPerPkt*1000 - b.usPerPkt*1000) })
			rows = append(rows, rs[len(rs)/2])
			emit(rs[len(rs)/2])
		}
	}
	table := render(rows)
	fmt.Print(table)
	if out != "" {
		host, _ := os.Hostname()
		hdr := fmt.Sprintf("# SIP↔SIP relay, %s\n\nMachine: %s, %d CPUs, %s/%s, %s. %d-s windows, median of %d.\n\n",
			time.Now().UTC().Format(time.DateOnly), host, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(),
			int(d.Seconds()), runs)
		return os.WriteFile(out, []byte(hdr+table), 0o644)
	}
	return nil
}

var jsonOut bool

// emit prints r as a JSON line for bench/suite when asked to.
func emit(r result) {
	if !jsonOut {
		return
	}
	b, _ := json.Marshal(map[string]any{"path": "relay-" + r.mode, "calls": r.calls, "pps": r.pps,
		"us_per_packet": r.usPerPkt, "pct_core_per_call": r.pctPerCall, "loss_pct": r.lossPct,
		"p50_ms": float64(r.p50.Microseconds()) / 1000, "p99_ms": float64(r.p99.Microseconds()) / 1000})
	fmt.Println(string(b))
}

// capacity raises each mode's calls by half again from 100 until a
// window loses more than 0.5 % or its transit p99 passes 20 ms, and
// prints the last count that held (the knee).
func capacity(d time.Duration) error {
	p := pinning()
	for _, mode := range modes() {
		knee := 0
		for n := 100; n <= 20000; n = n * 3 / 2 {
			r, err := measure(mode, n, d, p, "")
			if err != nil {
				return err
			}
			fmt.Printf("%-8s %5d calls: %.0f pkt/s, %.1f µs/pkt, loss %.2f %%, p99 %v\n", mode, n, r.pps, r.usPerPkt, r.lossPct, r.p99.Round(time.Microsecond))
			if r.lossPct > 0.5 || r.p99 > 20*time.Millisecond {
				break
			}
			knee = n
		}
		fmt.Printf("%-8s knee: %d calls (%d packets a second relayed)\n", mode, knee, knee*100)
		if jsonOut {
			b, _ := json.Marshal(map[string]any{"path": "knee-" + mode, "calls": knee})
			fmt.Println(string(b))
		}
	}
	return nil
}

// modes are the relays measured: ours, the bare baseline, and rtpengine
// when installed.
func modes() []string {
	if haveRTPEngine() {
		return []string{"bare", "bridge", "rtpengine"}
	}
	return []string{"bare", "bridge"}
}

// render is the results as a Markdown table, each row with its ratio to
// the bare relay (and to rtpengine, when measured) at the same call count.
func render(rows []result) string {
	var b strings.Builder
	b.WriteString("| mode | calls | pkt/s relayed | µs CPU per packet | ratio to bare | ratio to rtpengine | % core per call | loss | transit p50 / p99 / max |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	base := map[string]float64{}
	for _, r := range rows {
		base[r.mode+strconv.Itoa(r.calls)] = r.usPerPkt
	}
	ratio := func(r result, mode string) string {
		if v := base[mode+strconv.Itoa(r.calls)]; v > 0 {
			return fmt.Sprintf("%.2f×", r.usPerPkt/v)
		}
		return "—"
	}
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %d | %.0f | %.1f | %s | %s | %.3f %% | %.2f %% | %v / %v / %v |\n", r.mode, r.calls, r.pps,
			r.usPerPkt, ratio(r, "bare"), ratio(r, "rtpengine"), r.pctPerCall, r.lossPct, r.p50.Round(time.Microsecond),
			r.p99.Round(time.Microsecond), r.max.Round(time.Microsecond))
	}
	return b.String()
}

// pin says how the relay and the generator share the cores.
type pin struct{ relay, gen string }

func pinning() pin {
	if _, err := exec.LookPath("taskset"); err != nil || runtime.NumCPU() < 2 {
		return pin{}
	}
	return pin{relay: "0", gen: "1"}
}

func (p pin) describe() string {
	if p.relay == "" {
		return "not pinned (no taskset or one core): figures include the generator's contention"
	}
	return "pinned to core " + p.relay + ", generator to core " + p.gen
}

// measure starts a relay child of mode with n calls (or rtpengine),
// drives it for d after a warm-up, and reads its CPU from /proc.
func measure(mode string, n int, d time.Duration, p pin, profile string) (result, error) {
	if mode == "rtpengine" {
		return measureRTPEngine(n, d, p)
	}
	self, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	args := []string{self, "-serve", mode, "-calls", strconv.Itoa(n), "-profile", profile}
	if p.relay != "" {
		args = append([]string{"taskset", "-c", p.relay}, args...)
		if err := setAffinity(p.gen); err != nil {
			return result{}, err
		}
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	var ports [][2]uint16
	if err := json.NewDecoder(bufio.NewReader(stdout)).Decode(&ports); err != nil {
		return result{}, fmt.Errorf("child's ports: %w", err)
	}
	g, err := newGenerator(ports)
	if err != nil {
		return result{}, err
	}
	defer g.close()
	return g.drive(mode, n, d, cmd.Process.Pid)
}

// drive sends the calls' packets through the relay pid for a warm-up and
// then d, and measures the window.
func (g *generator) drive(mode string, n int, d time.Duration, pid int) (result, error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := g.start(ctx)
	time.Sleep(2 * time.Second) // latching, first packets, the runtime's warm-up
	g.reset()
	cpu0, _ := proc.Stat(pid)
	start := time.Now()
	time.Sleep(d)
	cpu1, _ := proc.Stat(pid)
	elapsed := time.Since(start)
	sent, recv, transit := g.snapshot()
	cancel()
	<-done
	relayed := float64(recv)
	r := result{mode: mode, calls: n, pps: relayed / elapsed.Seconds()}
	if recv > 0 {
		r.usPerPkt = float64((cpu1 - cpu0).Microseconds()) / relayed
	}
	r.pctPerCall = 100 * (cpu1 - cpu0).Seconds() / elapsed.Seconds() / float64(n)
	if sent > 0 {
		r.lossPct = max(0, 100*float64(sent-recv)/float64(sent))
	}
	if len(transit) > 0 {
		slices.Sort(transit)
		r.p50, r.p99, r.max = transit[len(transit)/2], transit[len(transit)*99/100], transit[len(transit)-1]
	}
	return r, nil
}

// setAffinity pins this process (the generator) to cpu, with taskset.
func setAffinity(cpu string) error {
	return exec.Command("taskset", "-a", "-p", "-c", cpu, strconv.Itoa(os.Getpid())).Run()
}

// generator is the phones: per call two sockets, each sending to its port
// of the relay and reading what the relay sends it from the other side.
type generator struct {
	conns   []*net.UDPConn
	targets []netip.AddrPort
	wg      sync.WaitGroup

	sent, recv atomic.Int64
	mu         sync.Mutex
	transit    []time.Duration
}

func newGenerator(ports [][2]uint16) (*generator, error) {
	g := &generator{}
	lo := netip.MustParseAddr("127.0.0.1")
	for _, pp := range ports {
		for _, port := range pp {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				g.close()
				return nil, err
			}
			_ = c.SetReadBuffer(1 << 20)
			g.conns = append(g.conns, c)
			g.targets = append(g.targets, netip.AddrPortFrom(lo, port))
		}
	}
	return g, nil
}

// start sends every socket's packet each 20 ms and reads on every socket
// until ctx ends; the channel closes when all goroutines are done.
func (g *generator) start(ctx context.Context) <-chan struct{} {
	for _, c := range g.conns {
		g.wg.Add(1)
		go g.read(c)
	}
	g.wg.Add(1)
	go g.send(ctx)
	done := make(chan struct{})
	go func() {
		<-ctx.Done()
		for _, c := range g.conns {
			_ = c.SetReadDeadline(time.Now())
		}
		g.wg.Wait()
		close(done)
	}()
	return done
}

func (g *generator) send(ctx context.Context) {
	defer g.wg.Done()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	seq := uint16(0)
	buf := make([]byte, 12+160)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		seq++
		for i, c := range g.conns {
			h := rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: uint32(i + 1)}
			n, _ := h.MarshalTo(buf)
			binary.BigEndian.PutUint64(buf[n:], uint64(time.Now().UnixNano()))
			if _, err := c.WriteToUDPAddrPort(buf, g.targets[i]); err == nil {
				g.sent.Add(1)
			}
		}
	}
}

func (g *generator) read(c *net.UDPConn) {
	defer g.wg.Done()
	buf := make([]byte, 1500)
	var p rtp.Packet
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if p.Unmarshal(buf[:n]) != nil || p.PayloadType != 0 || len(p.Payload) < 8 {
			continue // RTCP, or not ours
		}
		sentAt := int64(binary.BigEndian.Uint64(p.Payload))
		g.recv.Add(1)
		if d := time.Duration(time.Now().UnixNano() - sentAt); d >= 0 && d < 10*time.Second {
			g.mu.Lock()
			g.transit = append(g.transit, d)
			g.mu.Unlock()
		}
	}
}

// reset starts the measurement window.
func (g *generator) reset() {
	g.sent.Store(0)
	g.recv.Store(0)
	g.mu.Lock()
	g.transit = g.transit[:0]
	g.mu.Unlock()
}

func (g *generator) snapshot() (sent, recv int64, transit []time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sent.Load(), g.recv.Load(), slices.Clone(g.transit)
}

func (g *generator) close() {
	for _, c := range g.conns {
		_ = c.Close()
	}
}

// child runs the relay: it prints its port pairs as JSON on stdout and
// relays until stdin closes.
func child(mode, calls, profile string) error {
	n, err := strconv.Atoi(calls)
	if err != nil {
		return err
	}
	if profile != "" {
		f, err := os.Create(filepath.Join(profile, fmt.Sprintf("%s-%d.cpu.pprof", mode, n)))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var ports [][2]uint16
	var closers []io.Closer
	for range n {
		var a, b uint16
		var c []io.Closer
		switch mode {
		case "bare":
			a, b, c, err = bareCall()
		case "bridge":
			a, b, c, err = bridgeCall()
		default:
			return fmt.Errorf("unknown mode %q", mode)
		}
		if err != nil {
			return err
		}
		ports = append(ports, [2]uint16{a, b})
		closers = append(closers, c...)
	}
	if err := json.NewEncoder(os.Stdout).Encode(ports); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range closers {
		_ = c.Close()
	}
	return nil
}

// bareCall is two sockets relaying to each other's latched source.
func bareCall() (uint16, uint16, []io.Closer, error) {
	a, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, 0, nil, err
	}
	b, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		_ = a.Close()
		return 0, 0, nil, err
	}
	var peerA, peerB atomic.Pointer[netip.AddrPort]
	go relayBare(a, b, &peerA, &peerB)
	go relayBare(b, a, &peerB, &peerA)
	return port(a), port(b), []io.Closer{a, b}, nil
}

// relayBare reads from in, latches in's peer, and writes to out's peer.
func relayBare(in, out *net.UDPConn, inPeer, outPeer *atomic.Pointer[netip.AddrPort]) {
	buf := make([]byte, 1500)
	for {
		n, src, err := in.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if cur := inPeer.Load(); cur == nil || *cur != src {
			inPeer.Store(&src)
		}
		if dst := outPeer.Load(); dst != nil {
			_, _ = out.WriteToUDPAddrPort(buf[:n], *dst)
		}
	}
}

func port(c *net.UDPConn) uint16 { return uint16(c.LocalAddr().(*net.UDPAddr).Port) }

// bridgeCall is two SIP legs' media joined as a call joins them.
func bridgeCall() (uint16, uint16, []io.Closer, error) {
	log := slog.New(slog.DiscardHandler)
	var eps [2]*media.RTPEndpoint
	for i := range eps {
		ep, err := media.NewRTP(fmt.Sprintf("leg%d", i), net.IPv4(127, 0, 0, 1), 10000, 60000, log)
		if err != nil {
			return 0, 0, nil, err
		}
		eps[i] = ep
		// The phone's offer names the discard port: symmetric RTP latches
		// to wherever its packets come from.
		offer := "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"
		if _, err := ep.AnswerOffer(context.Background(), offer); err != nil {
			return 0, 0, nil, err
		}
	}
	br := media.NewBridge(eps[0], eps[1], func() audio.Source { return audio.Silence() }, log)
	closeBridge := closerFunc(func() error { br.Stop(); return nil })
	return eps[0].LocalAddr().Port(), eps[1].LocalAddr().Port(), []io.Closer{closeBridge, eps[0], eps[1]}, nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }
