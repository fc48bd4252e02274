package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/bench/internal/proc"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// Result is one figure set, printed as a JSON line with -json for
// bench/suite to gather.
type Result struct {
	Path          string  `json:"path"` // webrtc, webrtc-pcmu, webrtc-setup, sip-setup, idle
	Calls         int     `json:"calls,omitempty"`
	Rate          float64 `json:"rate,omitempty"` // setups a second asked for
	Done          int     `json:"done,omitempty"` // setups or sockets that succeeded
	Failed        int     `json:"failed"`
	UsPerPacket   float64 `json:"us_per_packet,omitempty"`
	PctPerCall    float64 `json:"pct_core_per_call,omitempty"`
	MsCPUPerSetup float64 `json:"ms_cpu_per_setup,omitempty"`
	P50Ms         float64 `json:"p50_ms,omitempty"`
	P99Ms         float64 `json:"p99_ms,omitempty"`
	LossPct       float64 `json:"loss_pct"`
	KiBPerUnit    float64 `json:"kib_per_unit,omitempty"` // RSS per call or per socket
	GoroutinesPer float64 `json:"goroutines_per_unit,omitempty"`
}

// lastResult is the last result emitted (for -search).
var lastResult Result

// emit prints r as a JSON line when asked to.
func emit(r Result) {
	lastResult = r
	if *jsonOut {
		b, _ := json.Marshal(r)
		fmt.Println(string(b))
	}
}

// percentile is the p-quantile of sorted ds, in ms.
func percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	return float64(ds[int(p*float64(len(ds)-1))].Microseconds()) / 1000
}

// setupRate places WebRTC calls at rate a second for d: each caller dials
// a free callee, which answers; the call is hung up a second after it
// connected and the pair goes back to the pool. It reports setup latency
// (call.create to call.answered at the caller) and server CPU per setup
// above the idle baseline.
func setupRate(srv *server, rate float64, d time.Duration, idle time.Duration) error {
	n := int(rate*3) + 2 // a call holds its pair about 1 s plus its setup
	pairs, err := connectPairs(srv, n, audio.Opus)
	if err != nil {
		return err
	}
	defer func() {
		for _, p := range pairs {
			p.close()
		}
	}()
	free := make(chan *pair, n)
	for _, p := range pairs {
		free <- p
	}
	var mu sync.Mutex
	var lat []time.Duration
	var failed, skipped atomic.Int64
	var wg sync.WaitGroup
	cpu0, _ := proc.Stat(srv.cmd.Process.Pid)
	stopProfile := srv.profile(d)
	defer stopProfile()
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		<-tick.C
		var p *pair
		select {
		case p = <-free:
		default:
			skipped.Add(1)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			took, err := p.setup()
			if err != nil {
				failed.Add(1)
			} else {
				mu.Lock()
				lat = append(lat, took)
				mu.Unlock()
				time.Sleep(time.Second)
			}
			p.hangup()
			free <- p
		}()
	}
	tick.Stop()
	wg.Wait()
	cpu1, _ := proc.Stat(srv.cmd.Process.Pid)
	slices.Sort(lat)
	r := Result{Path: "webrtc-setup", Rate: rate, Done: len(lat), Failed: int(failed.Load() + skipped.Load()),
		P50Ms: percentile(lat, 0.5), P99Ms: percentile(lat, 0.99)}
	if len(lat) > 0 {
		busy := cpu1 - cpu0 - idle*time.Duration(float64(time.Since(deadline.Add(-d)))/float64(d))
		r.MsCPUPerSetup = float64(busy.Microseconds()) / 1000 / float64(len(lat))
	}
	fmt.Printf("webrtc setups         %.0f/s for %s: %d connected, %d failed, %d not placed (no free pair); p50 %.1f ms, p99 %.1f ms; %.2f ms server CPU per call (setup, 1 s of media, hangup)\n",
		rate, d, len(lat), failed.Load(), skipped.Load(), r.P50Ms, r.P99Ms, r.MsCPUPerSetup)
	emit(r)
	return nil
}

// hangup ends the pair's call, if any, and waits for the callee to hear it.
func (p *pair) hangup() {
	if p.out == nil {
		return
	}
	_ = p.out.Hangup()
	if p.in != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, _ = p.in.WaitFor(ctx, protocol.TypeCallEnded)
		cancel()
	}
	p.out, p.in = nil, nil
}

// sipSetupRate places SIP calls to the echo test (*43) at rate a second
// for d: INVITE, 407, INVITE with digest credentials, 200, ACK; BYE a
// second later. It reports INVITE-to-200 latency and server CPU per call.
func sipSetupRate(srv *server, sipAddr string, rate float64, d time.Duration, idle time.Duration) error {
	user, pass := "benchsip", "bench-sip-password-1"
	var u struct{ ID string }
	if err := srv.post("/v1/users", map[string]any{"name": "SIP bench", "extension": "4999",
		"sip_username": user, "sip_password": pass}, &u); err != nil {
		return err
	}
	host, portS, _ := net.SplitHostPort(sipAddr)
	port, _ := strconv.Atoi(portS)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("switchboard-bench"))
	if err != nil {
		return err
	}
	defer ua.Close()
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		return err
	}
	defer client.Close()
	// Answers to our in-dialog requests come back to the client's socket;
	// requests from the server (a BYE of its own) get 200 from a server.
	srvUA, err := sipgo.NewServer(ua)
	if err != nil {
		return err
	}
	ln, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = srvUA.ServeUDP(ln) }()
	defer ln.Close()
	local := ln.LocalAddr().(*net.UDPAddr)
	dc := sipgo.NewDialogClientCache(client, sip.ContactHeader{Address: sip.Uri{User: user, Host: "127.0.0.1", Port: local.Port}})
	srvUA.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = dc.ReadBye(req, tx)
	})
	target := sip.Uri{Scheme: "sip", User: "*43", Host: host, Port: port}
	offer := func(rtpPort int) []byte {
		return []byte(fmt.Sprintf("v=0\r\no=bench 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
			"m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n", rtpPort))
	}
	var mu sync.Mutex
	var lat []time.Duration
	var failed atomic.Int64
	var wg sync.WaitGroup
	cpu0, _ := proc.Stat(srv.cmd.Process.Pid)
	stopProfile := srv.profile(d)
	defer stopProfile()
	start := time.Now()
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	for i := 0; time.Since(start) < d; i++ {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
			defer ccancel()
			t0 := time.Now()
			sess, err := dc.Invite(cctx, target, offer(40000+2*(i%10000)),
				sip.NewHeader("Content-Type", "application/sdp"), sip.NewHeader("From", fmt.Sprintf("<sip:%s@%s>;tag=b%d", user, host, i)))
			if err == nil {
				err = sess.WaitAnswer(cctx, sipgo.AnswerOptions{Username: user, Password: pass})
			}
			if err != nil {
				failed.Add(1)
				fmt.Fprintln(os.Stderr, "sip call:", err)
				if sess != nil {
					_ = sess.Close()
				}
				return
			}
			took := time.Since(t0)
			_ = sess.Ack(cctx)
			mu.Lock()
			lat = append(lat, took)
			mu.Unlock()
			time.Sleep(time.Second)
			_ = sess.Bye(cctx)
			_ = sess.Close()
		}()
	}
	tick.Stop()
	wg.Wait()
	cpu1, _ := proc.Stat(srv.cmd.Process.Pid)
	elapsed := time.Since(start)
	slices.Sort(lat)
	r := Result{Path: "sip-setup", Rate: rate, Done: len(lat), Failed: int(failed.Load()), P50Ms: percentile(lat, 0.5), P99Ms: percentile(lat, 0.99)}
	if len(lat) > 0 {
		busy := cpu1 - cpu0 - time.Duration(float64(idle)*elapsed.Seconds()/d.Seconds())
		r.MsCPUPerSetup = float64(busy.Microseconds()) / 1000 / float64(len(lat))
	}
	fmt.Printf("sip setups (digest)   %.0f/s for %s: %d answered, %d failed; INVITE→200 p50 %.1f ms, p99 %.1f ms; %.2f ms server CPU per call (407, auth, echo media, BYE)\n",
		rate, d, len(lat), failed.Load(), r.P50Ms, r.P99Ms, r.MsCPUPerSetup)
	emit(r)
	return nil
}

// idleSockets opens n signalling sockets that authenticate and then stay
// idle, and reports the server's RSS and goroutines per socket above the
// baseline.
func idleSockets(srv *server, n int) error {
	tok, err := srv.token("Idle", "4998")
	if err != nil {
		return err
	}
	rss0, g0 := srv.memory()
	ws := strings.Replace(srv.base, "http://", "ws://", 1) + "/v1/webrtc"
	var conns []*websocket.Conn
	defer func() {
		for _, c := range conns {
			_ = c.CloseNow()
		}
	}()
	failed := 0
	for range n {
		c, err := dialIdle(ws, tok)
		if err != nil {
			failed++
			if failed > n/100+5 {
				return fmt.Errorf("idle sockets: %d failed, last: %w", failed, err)
			}
			continue
		}
		conns = append(conns, c)
	}
	time.Sleep(2 * time.Second) // settle: pings, GC
	rss1, g1 := srv.memory()
	ok := len(conns)
	r := Result{Path: "idle", Done: ok, Failed: failed}
	if ok > 0 {
		r.KiBPerUnit = float64(rss1-rss0) / 1024 / float64(ok)
		r.GoroutinesPer = float64(g1-g0) / float64(ok)
	}
	fmt.Printf("idle sockets          %d authenticated (%d failed): %.1f KiB RSS and %.2f goroutines per socket\n",
		ok, failed, r.KiBPerUnit, r.GoroutinesPer)
	emit(r)
	return nil
}

// dialIdle opens one socket and authenticates it; nothing reads it after
// that but the library's control frames (pings are answered on read, so a
// reader goroutine runs).
func dialIdle(url, token string) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}})
	if err != nil {
		return nil, err
	}
	auth, _ := json.Marshal(map[string]any{"type": "authenticate", "token": token, "req_id": "a"})
	if err := c.Write(ctx, websocket.MessageText, auth); err != nil {
		_ = c.CloseNow()
		return nil, err
	}
	_, msg, err := c.Read(ctx)
	if err != nil {
		_ = c.CloseNow()
		return nil, err
	}
	if !strings.Contains(string(msg), `"authenticated"`) {
		_ = c.CloseNow()
		return nil, errors.New("authenticate: " + string(msg))
	}
	go func() { // answer pings; ends when the socket closes
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	return c, nil
}

// memory is the server's RSS and goroutine count (from /metrics).
func (s *server) memory() (int64, int) {
	_, rss := proc.Stat(s.cmd.Process.Pid)
	req, _ := http.NewRequest("GET", s.base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return rss, 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			g, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return rss, int(g)
		}
	}
	return rss, 0
}

// pinned says whether the server runs on core 0 and this process on the
// others (taskset and at least two cores).
func pinned() bool {
	_, err := exec.LookPath("taskset")
	return err == nil && runtime.NumCPU() >= 2
}

// profile starts a CPU profile of the server for d (PROFILE=1 / -profile)
// and returns what saves it and a heap profile.
func (s *server) profile(d time.Duration) func() {
	if opts.profile == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.save(fmt.Sprintf("/debug/pprof/profile?seconds=%d", int(d.Seconds())), "cpu.pprof")
	}()
	return func() {
		<-done
		s.save("/debug/pprof/heap", "heap.pprof")
	}
}

// save writes the server's answer to path into the profile directory.
func (s *server) save(path, name string) {
	req, _ := http.NewRequest("GET", s.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	file := filepath.Join(opts.profile, name)
	if err := os.WriteFile(file, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return
	}
	fmt.Printf("profile               %s\n", file)
}

// capacity is -search: the most concurrent calls of this kind a server
// (pinned to one core) carries with no failed call, audio both ways in
// every call and at most 0.5 % loss.
func capacity(from, most int, d time.Duration, codec audio.Codec, bin string) {
	knee := 0
	for n := max(from, 2); n <= most; n = n * 3 / 2 {
		err := run(n, d, codec, bin, false)
		r := lastResult
		fmt.Printf("search                %d calls: loss %.2f %%, %d failed, err %v\n", n, r.LossPct, r.Failed, err)
		if err != nil || r.LossPct > 0.5 || r.Failed > 0 {
			break
		}
		knee = n
	}
	path := "webrtc"
	if codec != audio.Opus {
		path = "webrtc-" + string(codec)
	}
	fmt.Printf("%s knee: %d calls\n", path, knee)
	if *jsonOut {
		b, _ := json.Marshal(map[string]any{"path": "knee-" + path, "calls": knee})
		fmt.Println(string(b))
	}
}
