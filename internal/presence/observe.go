package presence

// Summary is the part of a user's presence an observer hears changes of:
// the derived status and what the user set. Dialogs, name and extension
// changes are not news to it.
type Summary struct {
	Status       Status
	DoNotDisturb bool
	StatusText   string
}

// Observe installs fn (before reports start): it hears each user whose
// summary changed, with the state and the summary it had before, on the
// notifier goroutine after watchers' fan-out is prepared; it must not
// block. Changes that come faster than the notifier runs are coalesced, as
// for watchers. A user the hub never loaded has an empty Account (and
// DoNotDisturb and StatusText unknown): the observer looks it up.
func (h *Hub) Observe(fn func(cur State, prev Summary)) {
	h.mu.Lock()
	h.observer = fn
	h.mu.Unlock()
}

func (e *entry) summary() Summary {
	return Summary{Status: e.state.Status, DoNotDisturb: e.state.DoNotDisturb, StatusText: e.state.StatusText}
}

// baseline keeps the summary before a change, the first time one comes.
func (h *Hub) baseline(e *entry) {
	if h.observer != nil && e.reported == nil {
		s := e.summary()
		e.reported = &s
	}
}

// observedLocked returns the summary the observer heard last when the
// current one differs (and takes the current one as heard); nil: no news.
func (h *Hub) observedLocked(e *entry) *Summary {
	if h.observer == nil || e.reported == nil {
		return nil
	}
	cur := e.summary()
	if cur == *e.reported {
		return nil
	}
	prev := *e.reported
	e.reported = &cur
	return &prev
}
