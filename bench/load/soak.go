package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-voice/switchboard/bench/internal/proc"
)

// soak churns calls for d: each of the n pairs places a call, keeps it up
// for 2–6 s, hangs up and starts again. It prints the server's RSS,
// goroutines and open file descriptors at the start (after the softphones
// connected) and at the end (after the last call ended), so a leak shows
// as a difference measured in the same run.
func soak(srv *server, n int, d time.Duration) error {
	pairs, err := connectPairs(srv, n, "opus")
	if err != nil {
		return err
	}
	defer func() {
		for _, p := range pairs {
			p.close()
		}
	}()
	pid := srv.cmd.Process.Pid
	start := sample(srv, pid)
	fmt.Printf("soak: %d pairs churning calls for %s, server pid %d\n", n, d, pid)
	fmt.Printf("start  %s\n", start)

	var done, failed atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i, p := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 1))
			for time.Now().Before(deadline) {
				if err := p.churn(2*time.Second + time.Duration(r.IntN(4000))*time.Millisecond); err != nil {
					failed.Add(1)
					fmt.Fprintln(os.Stderr, "soak: call failed:", err)
					continue
				}
				done.Add(1)
			}
		}()
	}
	for t := time.NewTicker(time.Minute); time.Now().Before(deadline); {
		<-t.C
		fmt.Printf("%5.0fs  %s  calls %d, failed %d\n", time.Until(deadline).Seconds()*-1+d.Seconds(),
			sample(srv, pid), done.Load(), failed.Load())
	}
	wg.Wait()
	// The last calls end asynchronously on the server.
	var end stats
	for i := 0; i < 50; i++ {
		if end = sample(srv, pid); end.calls == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Printf("end    %s\n", end)
	fmt.Printf("calls  %d completed, %d failed; growth: RSS %+.1f MiB, goroutines %+d, fds %+d\n",
		done.Load(), failed.Load(), float64(end.rss-start.rss)/(1<<20), end.goroutines-start.goroutines, end.fds-start.fds)
	if failed.Load() > 0 {
		return fmt.Errorf("%d calls failed", failed.Load())
	}
	return nil
}

// churn places one call, keeps it up for hold, and hangs up.
func (p *pair) churn(hold time.Duration) error {
	if _, err := p.setup(); err != nil {
		return err
	}
	time.Sleep(hold) // a call's length, not a synchronisation
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.out.Hangup(); err != nil {
		return err
	}
	for _, c := range []interface{ Done() <-chan struct{} }{p.out, p.in} {
		if c == nil {
			continue
		}
		select {
		case <-c.Done():
		case <-ctx.Done():
			return fmt.Errorf("call did not end: %w", ctx.Err())
		}
	}
	return nil
}

type stats struct {
	rss        int64
	goroutines int
	fds        int
	calls      int
}

func (s stats) String() string {
	return fmt.Sprintf("RSS %.1f MiB, goroutines %d, fds %d, live calls %d", float64(s.rss)/(1<<20), s.goroutines, s.fds, s.calls)
}

// sample reads the process's RSS and fds from /proc, and its goroutines
// and live calls from /metrics.
func sample(srv *server, pid int) stats {
	_, rss := proc.Stat(pid)
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	s := stats{rss: rss, fds: len(ents)}
	req, _ := http.NewRequest("GET", srv.base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return s
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			s.goroutines, _ = strconv.Atoi(v)
		}
		if v, ok := strings.CutPrefix(line, "switchboard_calls_active "); ok {
			s.calls, _ = strconv.Atoi(v)
		}
	}
	return s
}
