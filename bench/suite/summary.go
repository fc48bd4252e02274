package main

import (
	"fmt"
	"strings"
)

// find returns the figure of path at calls (any calls when 0), the last
// one when several.
func find(figs []figure, path string, calls int) figure {
	var got figure
	for _, f := range figs {
		if f["path"] == path && (calls == 0 || int(f.num("calls")) == calls) {
			got = f
		}
	}
	return got
}

// row is one line of the summary.
type row struct{ path, figure, baseline, ratio, goal, status string }

// within says whether v meets a ceiling goal, or how far off it is.
func within(v, goal float64) string {
	switch {
	case v <= 0:
		return "not measured"
	case v <= goal:
		return "**met**"
	}
	return fmt.Sprintf("%.2f× the goal", v/goal)
}

// summarize turns the tools' figures into the goals table.
func summarize(figs []figure) string {
	var rows []row
	for _, f := range figs {
		if f["path"] != "webrtc" {
			continue
		}
		n := int(f.num("calls"))
		bare := find(figs, "relay-bare", n).num("us_per_packet")
		r := row{path: fmt.Sprintf("WebRTC Opus↔Opus passthrough, %d calls", n),
			figure:   fmt.Sprintf("%.1f µs CPU per packet (%.2f %% of a core per call), loss %.2f %%", f.num("us_per_packet"), f.num("pct_core_per_call"), f.num("loss_pct")),
			baseline: fmt.Sprintf("bare relay %.1f µs", bare), goal: "≤ 1.5× bare"}
		if bare > 0 {
			ratio := f.num("us_per_packet") / bare
			r.ratio, r.status = fmt.Sprintf("%.2f×", ratio), within(ratio, 1.5)
		}
		rows = append(rows, r)
	}
	for _, f := range figs {
		if f["path"] != "relay-bridge" {
			continue
		}
		n := int(f.num("calls"))
		us := f.num("us_per_packet")
		bare, rtpe := find(figs, "relay-bare", n).num("us_per_packet"), find(figs, "relay-rtpengine", n).num("us_per_packet")
		r := row{path: fmt.Sprintf("SIP↔SIP RTP, %d calls (%d pkt/s)", n, n*100),
			figure: fmt.Sprintf("%.1f µs CPU per packet, loss %.2f %%, transit p99 %.2f ms", us, f.num("loss_pct"), f.num("p99_ms")),
			goal:   "≤ 0.8× rtpengine", status: "rtpengine not installed (make bench-deps)"}
		r.baseline = fmt.Sprintf("bare relay %.1f µs", bare)
		if bare > 0 {
			r.ratio = fmt.Sprintf("%.2f× bare", us/bare)
		}
		if rtpe > 0 {
			r.baseline += fmt.Sprintf(", rtpengine %.1f µs", rtpe)
			r.ratio += fmt.Sprintf(", %.2f× rtpengine", us/rtpe)
			r.status = within(us/rtpe, 0.8)
		}
		rows = append(rows, r)
	}
	if f := find(figs, "webrtc-pcmu", 0); f != nil {
		rows = append(rows, row{path: fmt.Sprintf("WebRTC Opus↔PCMU transcoded, %d calls", int(f.num("calls"))),
			figure: fmt.Sprintf("%.2f %% of a core per call, loss %.2f %%", f.num("pct_core_per_call"), f.num("loss_pct")),
			goal:   "≤ 0.5 % of a core per call", status: within(f.num("pct_core_per_call"), 0.5)})
	}
	setup := func(path, name, goal string, rateGoal float64) {
		f := find(figs, path, 0)
		if f == nil {
			return
		}
		r := row{path: fmt.Sprintf("%s at %.0f/s", name, f.num("rate")),
			figure: fmt.Sprintf("%.0f done, %.0f failed; p50 %.1f ms, p99 %.1f ms; %.2f ms server CPU per call", f.num("done"), f.num("failed"),
				f.num("p50_ms"), f.num("p99_ms"), f.num("ms_cpu_per_setup")),
			goal: goal}
		switch {
		case f.num("failed") > 0 || f.num("p99_ms") >= 50:
			r.status = fmt.Sprintf("not met at %.0f/s (p99 %.0f ms)", f.num("rate"), f.num("p99_ms"))
		case f.num("rate") < rateGoal:
			r.status = fmt.Sprintf("clean at %.0f/s; %.0f/s not tried", f.num("rate"), rateGoal)
		default:
			r.status = "**met**"
		}
		if ms := f.num("ms_cpu_per_setup"); ms > 0 {
			r.ratio = fmt.Sprintf("CPU bound: %.0f/s per core", 1000/ms)
		}
		rows = append(rows, r)
	}
	setup("webrtc-setup", "WebRTC call setups (ICE + DTLS both legs)", "≥ 150/s per core, p99 < 50 ms", 150)
	setup("sip-setup", "SIP INVITE + 407 + digest setups", "≥ 1,000/s per core, p99 < 50 ms", 1000)
	var top figure
	for _, f := range figs {
		if f["path"] == "webrtc" && (top == nil || f.num("calls") > top.num("calls")) {
			top = f
		}
	}
	if top != nil {
		rows = append(rows, row{path: "memory per bridged WebRTC call", figure: fmt.Sprintf("%.0f KiB RSS (%d calls)", top.num("kib_per_unit"), int(top.num("calls"))),
			goal: "≤ 300 KiB", status: within(top.num("kib_per_unit"), 300)})
	}
	if f := find(figs, "idle", 0); f != nil {
		rows = append(rows, row{path: fmt.Sprintf("idle authenticated sockets (%d)", int(f.num("done"))),
			figure: fmt.Sprintf("%.1f KiB RSS and %.2f goroutines per socket", f.num("kib_per_unit"), f.num("goroutines_per_unit")),
			goal:   "≤ 10 KiB", status: within(f.num("kib_per_unit"), 10)})
	}
	var hi figure
	for _, f := range figs {
		if f["path"] == "relay-bridge" && (hi == nil || f.num("calls") > hi.num("calls")) {
			hi = f
		}
	}
	if hi != nil {
		rows = append(rows, row{path: fmt.Sprintf("media transit through the server, %d SIP↔SIP calls", int(hi.num("calls"))),
			figure: fmt.Sprintf("p50 %.2f ms, p99 %.2f ms", hi.num("p50_ms"), hi.num("p99_ms")),
			goal:   "p99 < 2 ms", status: within(hi.num("p99_ms"), 2)})
	}
	var b strings.Builder
	b.WriteString("| path | measured | same-run baseline | ratio | goal | status |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.path, r.figure, dash(r.baseline), dash(r.ratio), r.goal, dash(r.status))
	}
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
