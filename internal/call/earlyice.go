package call

import (
	"sync"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

// Some clients (DialStack's browser SDK) trickle the candidates of an
// outbound or consult call under the req_id of the request that creates it,
// because they learn the call id only from call.trying. They even gather
// before sending the request, so the candidates can precede it. reqCalls
// keeps, per device session, what such a req_id stands for: candidates
// waiting for their request, then the call the request created.
const (
	reqTTL          = 60 * time.Second // how long a req_id keeps standing for its call
	maxReqEntries   = 8                // per session; the oldest goes first
	maxQueuedCands  = 32               // per entry, before the request arrives
	maxQueuedCandSz = 512              // bytes of one queued candidate (real ones are ~100)
)

// reqCalls maps a session's request ids to calls. Safe for concurrent use.
type reqCalls struct {
	now func() time.Time

	mu       sync.Mutex
	sessions map[ident.SessionID][]*reqEntry // oldest first
}

// reqEntry is one request id of a session: unbound (call empty) while
// candidates wait for a request that has not come, bound afterwards.
type reqEntry struct {
	reqID string
	call  ident.CallID
	cands []Candidate
	at    time.Time // created, or bound
}

func newReqCalls(now func() time.Time) *reqCalls {
	return &reqCalls{now: now, sessions: map[ident.SessionID][]*reqEntry{}}
}

// route returns the call id reqID stands for on the session. A trickled
// candidate (cand) for an id that stands for no call yet is kept for the
// request that may follow; an ice.done (trickle with nil cand) just
// reserves the id.
func (r *reqCalls) route(sess ident.SessionID, reqID string, trickle bool, cand *Candidate) (ident.CallID, bool) {
	if reqID == "" {
		return "", false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.findLocked(sess, reqID)
	switch {
	case e != nil && e.call != "":
		return e.call, true
	case !trickle:
		return "", false
	case e == nil:
		e = r.addLocked(sess, reqID)
	}
	if cand != nil && len(e.cands) < maxQueuedCands && len(cand.Candidate) <= maxQueuedCandSz {
		e.cands = append(e.cands, *cand)
	}
	return "", false
}

// bind makes reqID stand for call on the session and returns the
// candidates that were waiting for it.
func (r *reqCalls) bind(sess ident.SessionID, reqID string, call ident.CallID) []Candidate {
	if reqID == "" {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.findLocked(sess, reqID)
	if e == nil {
		e = r.addLocked(sess, reqID)
	}
	cands := e.cands
	e.call, e.cands, e.at = call, nil, r.now()
	return cands
}

// pending returns a copy of the candidates waiting under reqID, which
// stands for no call yet.
func (r *reqCalls) pending(sess ident.SessionID, reqID string) []Candidate {
	if reqID == "" {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.findLocked(sess, reqID); e != nil && e.call == "" {
		return append([]Candidate(nil), e.cands...)
	}
	return nil
}

// forget drops the session's entries (the session is over).
func (r *reqCalls) forget(sess ident.SessionID) {
	r.mu.Lock()
	delete(r.sessions, sess)
	r.mu.Unlock()
}

// size returns how many entries the session holds (for tests).
func (r *reqCalls) size(sess ident.SessionID) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pruneLocked(sess)
	return len(r.sessions[sess])
}

func (r *reqCalls) findLocked(sess ident.SessionID, reqID string) *reqEntry {
	r.pruneLocked(sess)
	for _, e := range r.sessions[sess] {
		if e.reqID == reqID {
			return e
		}
	}
	return nil
}

func (r *reqCalls) addLocked(sess ident.SessionID, reqID string) *reqEntry {
	list := r.sessions[sess]
	if len(list) >= maxReqEntries {
		list = append(list[:0], list[len(list)-maxReqEntries+1:]...)
	}
	e := &reqEntry{reqID: reqID, at: r.now()}
	r.sessions[sess] = append(list, e)
	return e
}

// pruneLocked drops the session's entries older than reqTTL.
func (r *reqCalls) pruneLocked(sess ident.SessionID) {
	list := r.sessions[sess]
	cut := r.now().Add(-reqTTL)
	keep := list[:0]
	for _, e := range list {
		if e.at.After(cut) {
			keep = append(keep, e)
		}
	}
	clear(list[len(keep):])
	if len(keep) == 0 {
		delete(r.sessions, sess)
		return
	}
	r.sessions[sess] = keep
}
