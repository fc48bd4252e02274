// Command presence measures what one presence change costs with 1 and
// with 1,000 watchers of the same user: the reporter's cost, changes back
// to back (what a call actor pays: it never waits for watchers, so it must
// not grow with them), and the fan-out of one change at a time until every
// watcher has it (one pass over the watchers: one call each). Each watcher
// queues into its own presence.Mailbox, as a WebSocket session does.
//
//	go run ./bench/presence -changes 2000
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/presence"
	"github.com/switchboard-voice/switchboard/internal/store"
)

const (
	account ident.AccountID = "acct_bench"
	user    ident.UserID    = "user_bench"
)

type dir struct{}

func (dir) GetUser(context.Context, ident.UserID) (*store.User, error) {
	return &store.User{ID: user, AccountID: account, Name: "Bench", Extension: "100"}, nil
}

type result struct {
	watchers  int
	report    time.Duration // per change, in the reporter, changes back to back
	fanout    time.Duration // per change, until every watcher has it
	perCall   float64       // watcher calls per watcher per change
	delivered int64
}

func run(watchers, changes int) (result, error) {
	h := presence.NewHub(dir{}, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	defer h.Close()
	var calls atomic.Int64
	var last atomic.Value // the status the last watcher (called last in a pass) heard last
	boxes := make([]*presence.Mailbox, watchers)
	for i := range boxes {
		boxes[i] = presence.NewMailbox()
		box, first := boxes[i], i == watchers-1
		_, cancel, err := h.Watch(account, user, func(s presence.State) {
			box.Put(s)
			calls.Add(1)
			if first {
				last.Store(s.Status)
			}
		})
		if err != nil {
			return result{}, err
		}
		defer cancel()
	}
	report := burst(h, changes, &last)
	calls.Store(0)
	var total time.Duration
	for i := range changes {
		want := int64(watchers) * int64(i+1)
		start := time.Now()
		toggle(h, i)
		for calls.Load() < want {
			runtime.Gosched()
		}
		total += time.Since(start)
		for _, b := range boxes {
			b.Take(0)
		}
	}
	n := time.Duration(changes)
	return result{watchers: watchers, report: report, fanout: total / n,
		perCall: float64(calls.Load()) / float64(watchers*changes), delivered: calls.Load()}, nil
}

// toggle makes the i-th change: the user's one device comes and goes.
func toggle(h *presence.Hub, i int) {
	if i%2 == 0 {
		h.DeviceUp(user, "sess_1")
	} else {
		h.DeviceDown(user, "sess_1")
	}
}

// burst makes changes back to back, as call actors do (they never wait for
// watchers), and returns the reporter's cost per change; then it waits
// until the watchers heard the last one.
func burst(h *presence.Hub, changes int, last *atomic.Value) time.Duration {
	start := time.Now()
	for i := range changes {
		toggle(h, i)
	}
	per := time.Since(start) / time.Duration(changes)
	want := presence.Offline
	if changes%2 == 1 {
		want = presence.Available
	}
	for last.Load() != want {
		runtime.Gosched()
	}
	return per
}

func main() {
	changes := flag.Int("changes", 2000, "status changes per run")
	flag.Parse()
	var rs []result
	for _, w := range []int{1, 10, 100, 1000} {
		r, err := run(w, *changes)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		rs = append(rs, r)
	}
	fmt.Printf("presence: %d changes of one user's status\n", *changes)
	fmt.Printf("%9s %16s %18s %18s %22s\n", "watchers", "report/change", "fan-out/change", "fan-out/watcher", "calls/watcher/change")
	for _, r := range rs {
		fmt.Printf("%9d %16v %18v %18v %22.2f\n", r.watchers, r.report, r.fanout,
			r.fanout/time.Duration(r.watchers), r.perCall)
	}
	one, many := rs[0], rs[len(rs)-1]
	fmt.Printf("ratio 1000:1  reporter %.2fx (must stay flat)  fan-out %.0fx for 1000x the watchers (one pass)\n",
		float64(many.report)/float64(one.report), float64(many.fanout)/float64(one.fanout))
}
