package presence

import (
	"sync"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

// Mailbox is a watcher's queue between the hub's notifier and whatever
// sends the states on (a socket's writer): Put never blocks and holds at
// most one state per user, so it is bounded by the users watched. A state
// still waiting when a newer one of the same user comes is replaced (the
// latest wins), keeping the older one's terminated dialogs so that every
// ended call is still reported once.
type Mailbox struct {
	mu      sync.Mutex
	pending map[ident.UserID]State
	order   []ident.UserID
	ready   chan struct{}
}

// NewMailbox returns an empty mailbox.
func NewMailbox() *Mailbox {
	return &Mailbox{pending: map[ident.UserID]State{}, ready: make(chan struct{}, 1)}
}

// Put queues s, replacing a state of the same user still waiting.
func (m *Mailbox) Put(s State) {
	m.mu.Lock()
	if old, ok := m.pending[s.User]; ok {
		s.Dialogs = keepTerminated(old.Dialogs, s.Dialogs)
	} else {
		m.order = append(m.order, s.User)
	}
	m.pending[s.User] = s
	m.mu.Unlock()
	select {
	case m.ready <- struct{}{}:
	default:
	}
}

// Ready has a value when states may be waiting.
func (m *Mailbox) Ready() <-chan struct{} { return m.ready }

// Take removes and returns up to max waiting states (max < 1: all), the
// user that changed first first.
func (m *Mailbox) Take(max int) []State {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.order)
	if max > 0 && max < n {
		n = max
	}
	out := make([]State, 0, n)
	for _, u := range m.order[:n] {
		out = append(out, m.pending[u])
		delete(m.pending, u)
	}
	m.order = m.order[n:]
	if len(m.order) > 0 {
		select {
		case m.ready <- struct{}{}:
		default:
		}
	}
	return out
}

// Len is the number of states waiting.
func (m *Mailbox) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.order)
}

// keepTerminated returns cur plus the terminated dialogs of old that cur
// no longer mentions.
func keepTerminated(old, cur []Dialog) []Dialog {
	var out []Dialog
	for _, d := range old {
		if d.State != DialogTerminated || hasDialog(cur, d.ID) {
			continue
		}
		if out == nil {
			out = append(make([]Dialog, 0, len(cur)+1), cur...)
		}
		out = append(out, d)
	}
	if out == nil {
		return cur
	}
	return out
}

func hasDialog(ds []Dialog, id string) bool {
	for _, d := range ds {
		if d.ID == id {
			return true
		}
	}
	return false
}
