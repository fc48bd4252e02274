package route

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// planHops plans dialled, then follows its Then forwards for Explain, at
// most left more hops and never twice to the same destination.
func planHops(ctx context.Context, dir Dir, trunks []TrunkInfo, from From, dialled string, opt Options, left int, seen map[string]bool) *Plan {
	pl := &planner{ctx: ctx, dir: dir, trunks: trunks, from: from, opt: opt,
		p: &Plan{Dialled: dialled}, users: map[ident.UserID]*store.User{}}
	pl.run(dialled)
	p := pl.p
	if p.Then == "" || opt.MaxForwards < 0 {
		return p
	}
	switch {
	case seen[p.Then]:
		pl.explain("  (%s was already planned: the forwards loop)", show(p.Then))
	case left <= 0:
		pl.explain("  (not followed: more than %d forwards)", opt.MaxForwards)
	default:
		seen[p.Then] = true
		hop := planHops(ctx, dir, trunks, p.ForwardFrom(from), p.Then, opt, left-1, seen)
		for _, l := range hop.Explain {
			p.Explain = append(p.Explain, "  "+l)
		}
	}
	return p
}

// show returns s for an explain line: as is when it is short and
// printable, else quoted, so stored names cannot forge log lines.
func show(s string) string {
	if utf8.RuneCountInString(s) > 64 {
		s = string([]rune(s)[:64]) + "…"
	}
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) || r == '"' }) {
		return strconv.Quote(s)
	}
	return s
}

// trunkList names trunks for an explain line.
func trunkList(names []string) string {
	if len(names) == 1 {
		return "trunk " + show(names[0])
	}
	shown := make([]string, len(names))
	for i, n := range names {
		shown[i] = show(n)
	}
	return "trunks " + strings.Join(shown, ", ")
}

// sortTrunks names the trunks a call to num would try, in OrderTrunks'
// order, each name once.
func sortTrunks(trunks []TrunkInfo, num, first string) []string {
	var names []string
	for _, i := range OrderTrunks(trunks, num, first) {
		if !slices.Contains(names, trunks[i].Name) {
			names = append(names, trunks[i].Name)
		}
	}
	return names
}

// OrderTrunks is the one rule for the order in which a call to num tries
// trunks: the trunk named first (an emergency call's trunk), then the
// longest matching prefix, then lowest priority, then configuration order.
// It returns indexes into trunks; trunks that do not carry num, and
// unnamed ones, are left out. An empty num keeps every trunk (an
// emergency call may go out anywhere). Planning (the explanation) and the
// SIP side (the trunks actually tried) both use it.
func OrderTrunks(trunks []TrunkInfo, num, first string) []int {
	type match struct{ i, plen int }
	var ms []match
	for i, t := range trunks {
		if t.Name == "" {
			continue
		}
		plen := prefixLen(t, num)
		if num == "" {
			plen = 0
		}
		if plen >= 0 {
			ms = append(ms, match{i, plen})
		}
	}
	isFirst := func(m match) bool { return first != "" && strings.EqualFold(trunks[m.i].Name, first) }
	slices.SortStableFunc(ms, func(a, b match) int {
		if fa, fb := isFirst(a), isFirst(b); fa != fb {
			if fa {
				return -1
			}
			return 1
		}
		if a.plen != b.plen {
			return b.plen - a.plen
		}
		return trunks[a.i].Priority - trunks[b.i].Priority
	})
	out := make([]int, len(ms))
	for k, m := range ms {
		out[k] = m.i
	}
	return out
}

// prefixLen is the length of t's longest prefix num starts with: 0 for a
// trunk with no prefixes (it carries everything), -1 when it does not
// carry num.
func prefixLen(t TrunkInfo, num string) int {
	if len(t.Prefixes) == 0 {
		return 0
	}
	best := -1
	for _, p := range t.Prefixes {
		if strings.HasPrefix(num, p) && len(p) > best {
			best = len(p)
		}
	}
	return best
}

// matchAny reports whether num starts with one of prefixes ("+" matches
// every number; a prefix without its "+" is read with it; "" matches
// nothing, so a blank allow-list entry opens nothing).
func matchAny(num string, prefixes []string) bool {
	for _, p := range prefixes {
		if p != "" && hasPrefix(num, strings.TrimPrefix(p, "+")) {
			return true
		}
	}
	return false
}

// hasPrefix reports whether the E.164 number num starts with "+" digits.
func hasPrefix(num, digits string) bool {
	return strings.HasPrefix(num, "+"+digits)
}

// allowed reports whether the account's allow-list lets callers reach
// num outside the dial plan's country.
func allowed(num string, allow []string) bool { return matchAny(num, allow) }

// allowList describes the allow-list for a refusal.
func allowList(dp *store.DialPlan) string {
	var s string
	if len(dp.InternationalAllow) == 0 {
		s = "account allow-list is empty"
	} else {
		shown := make([]string, len(dp.InternationalAllow))
		for i, p := range dp.InternationalAllow {
			shown[i] = show(p)
		}
		s = "account allow-list: " + strings.Join(shown, ", ")
	}
	if dp.Country == "" {
		return "the dial plan has no country, so every number is international; " + s
	}
	return s
}
