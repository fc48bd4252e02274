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

// sortTrunks returns the names of the trunks keep accepts, by priority
// then name, each once.
func sortTrunks(trunks []TrunkInfo, keep func(TrunkInfo) bool) []string {
	var ts []TrunkInfo
	for _, t := range trunks {
		if keep(t) && t.Name != "" {
			ts = append(ts, t)
		}
	}
	slices.SortStableFunc(ts, func(a, b TrunkInfo) int {
		if a.Priority != b.Priority {
			return a.Priority - b.Priority
		}
		return strings.Compare(a.Name, b.Name)
	})
	var names []string
	for _, t := range ts {
		if !slices.Contains(names, t.Name) {
			names = append(names, t.Name)
		}
	}
	return names
}

// carries reports whether trunk t carries the E.164 number num.
func carries(t TrunkInfo, num string) bool {
	return len(t.Prefixes) == 0 || matchAny(num, t.Prefixes)
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
