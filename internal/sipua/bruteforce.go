package sipua

import (
	"sync"
	"time"
)

// bans slows password guessing down without locking real phones out.
// Failed digest authentications are counted three ways, each over a
// sliding window (sip.ban_window), and every counter expires:
//
//   - per source and username: after sip.ban_after failures that source
//     is banned for that username alone, for sip.ban_for. A misconfigured
//     phone behind an office NAT bans only its own username, never the
//     office's other phones.
//   - per source, counting distinct usernames: a source failing as
//     sip.ban_after different users is a scanner, banned whole.
//   - per username, from anywhere: after sip.ban_after failures the user
//     backs off exponentially (sip.ban_window/60, doubling, up to
//     sip.ban_for: 1 s, 2 s, 4 s … by default) for
//     every source that has not authenticated as that user lately. The
//     user's working phones keep registering and calling; a guesser
//     spread over many addresses gets one try per back-off interval.
type bans struct {
	after       int
	window, ban time.Duration

	mu        sync.Mutex
	fails     map[string][]time.Time          // by source+"\x00"+user
	srcUsers  map[string]map[string]time.Time // failing usernames by source
	userFails map[string][]time.Time          // by user, from any source
	until     map[string]time.Time            // bans: source+"\x00"+user, or source+"\x00" for the whole source
	next      map[string]time.Time            // a user's back-off: no try from an unknown source before
	good      map[string]map[string]time.Time // sources that authenticated as a user, and when
}

// maxBanKeys bounds each table against floods of spoofed sources or
// made-up usernames; past it, expired entries are swept.
const maxBanKeys = 100000

// goodFor is how long a source that authenticated as a user is trusted to
// be that user's phone (longer than any registration interval).
const goodFor = 24 * time.Hour

func newBans(after int, window, ban time.Duration) *bans {
	return &bans{after: after, window: window, ban: ban,
		fails: map[string][]time.Time{}, srcUsers: map[string]map[string]time.Time{},
		userFails: map[string][]time.Time{}, until: map[string]time.Time{},
		next: map[string]time.Time{}, good: map[string]map[string]time.Time{}}
}

// verdict is what may happen to a request from src for user.
type verdict struct {
	banned     bool          // refuse with 403
	retryAfter time.Duration // > 0: the user is backing off; answer 503 with Retry-After
}

// check tells whether src may try to authenticate as user now. user is
// "" before credentials are known (only a whole-source ban applies then).
func (b *bans) check(src, user string, now time.Time) verdict {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bannedLocked(src+"\x00", now) || user != "" && b.bannedLocked(src+"\x00"+user, now) {
		return verdict{banned: true}
	}
	if user == "" || b.knownLocked(src, user, now) {
		return verdict{}
	}
	if t, ok := b.next[user]; ok && now.Before(t) {
		return verdict{retryAfter: t.Sub(now)}
	}
	return verdict{}
}

func (b *bans) bannedLocked(key string, now time.Time) bool {
	t, ok := b.until[key]
	if ok && !now.Before(t) {
		delete(b.until, key)
		return false
	}
	return ok
}

func (b *bans) knownLocked(src, user string, now time.Time) bool {
	t, ok := b.good[user][src]
	return ok && now.Sub(t) < goodFor
}

// fail counts a failed authentication of src as user and returns the
// scopes of any ban or back-off it started ("source_user", "source",
// "user_backoff").
func (b *bans) fail(src, user string, now time.Time) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sweepLocked(now)
	var started []string
	key := src + "\x00" + user
	b.fails[key] = b.recent(b.fails[key], now)
	if len(b.fails[key]) >= b.after {
		b.until[key] = now.Add(b.ban)
		delete(b.fails, key)
		started = append(started, "source_user")
	}
	users := b.srcUsers[src]
	if users == nil {
		users = map[string]time.Time{}
		b.srcUsers[src] = users
	}
	users[user] = now
	for u, t := range users {
		if now.Sub(t) >= b.window {
			delete(users, u)
		}
	}
	if len(users) >= b.after {
		b.until[src+"\x00"] = now.Add(b.ban)
		delete(b.srcUsers, src)
		started = append(started, "source")
	}
	if b.knownLocked(src, user, now) {
		return started // the user's own phone with a stale password: not a guesser
	}
	b.userFails[user] = b.recent(b.userFails[user], now)
	if n := len(b.userFails[user]); n >= b.after {
		shift := min(n-b.after, 20)
		b.next[user] = now.Add(min(b.backoffBase()<<shift, b.ban))
		if n == b.after {
			started = append(started, "user_backoff")
		}
	}
	return started
}

// backoffBase is a user's first back-off: a sixtieth of the window (1 s
// for the default minute).
func (b *bans) backoffBase() time.Duration { return max(b.window/60, 100*time.Millisecond) }

// recent appends now to ts and drops the times outside the window.
func (b *bans) recent(ts []time.Time, now time.Time) []time.Time {
	out := ts[:0]
	for _, t := range ts {
		if now.Sub(t) < b.window {
			out = append(out, t)
		}
	}
	return append(out, now)
}

// succeed records that src authenticated as user: its failures are
// forgiven and it is the user's phone from now on.
func (b *bans) succeed(src, user string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.fails, src+"\x00"+user)
	if b.good[user] == nil {
		if len(b.good) >= maxBanKeys {
			b.sweepGoodLocked(now)
		}
		b.good[user] = map[string]time.Time{}
	}
	b.good[user][src] = now
}

// sweepLocked drops expired entries once a table grows large.
func (b *bans) sweepLocked(now time.Time) {
	if len(b.fails)+len(b.userFails)+len(b.srcUsers)+len(b.until)+len(b.next) < maxBanKeys {
		return
	}
	for k, ts := range b.fails {
		if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= b.window {
			delete(b.fails, k)
		}
	}
	for k, ts := range b.userFails {
		if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= b.window {
			delete(b.userFails, k)
		}
	}
	for k, users := range b.srcUsers {
		for u, t := range users {
			if now.Sub(t) >= b.window {
				delete(users, u)
			}
		}
		if len(users) == 0 {
			delete(b.srcUsers, k)
		}
	}
	for k, t := range b.until {
		if !now.Before(t) {
			delete(b.until, k)
		}
	}
	for k, t := range b.next {
		if !now.Before(t) {
			delete(b.next, k)
		}
	}
}

func (b *bans) sweepGoodLocked(now time.Time) {
	for user, srcs := range b.good {
		for s, t := range srcs {
			if now.Sub(t) >= goodFor {
				delete(srcs, s)
			}
		}
		if len(srcs) == 0 {
			delete(b.good, user)
		}
	}
}
