package sipua

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/ident"
)

type regLog struct {
	mu  sync.Mutex
	got []string
}

func (l *regLog) RegistrationChanged(c RegistrationChange) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, c.State+" "+c.Contact.URI+" "+string(c.Account))
}

func (l *regLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.got
	l.got = nil
	return out
}

// The observer hears a new contact, not its refreshes, a move to another
// source, a removal, and an expiry (from the timer, with nobody asking).
func TestRegistrationChanges(t *testing.T) {
	g := NewRegistrar(config.Default().SIP, nil, nil)
	log := &regLog{}
	g.observer = log
	defer g.stopTimers()
	const user = ident.UserID("user_a")
	set := func(cs ...Contact) {
		g.mu.Lock()
		g.bindings[user] = cs
		g.mu.Unlock()
	}
	now := time.Now()
	a := Contact{User: user, URI: "sip:a@127.0.0.1:5062", Source: "127.0.0.1:5062", Transport: "udp", Expires: now.Add(time.Hour)}
	b := Contact{User: user, URI: "sip:b@127.0.0.1:5064", Source: "127.0.0.1:5064", Transport: "tcp", Expires: now.Add(time.Hour)}

	set(a)
	g.reconcile(user, "acct_1")
	require.Equal(t, []string{"registered sip:a@127.0.0.1:5062 acct_1"}, log.take())
	a.Expires = now.Add(2 * time.Hour)
	set(a, b)
	g.reconcile(user, "acct_1")
	require.Equal(t, []string{"registered sip:b@127.0.0.1:5064 acct_1"}, log.take(), "a's refresh is not news")
	b.Source = "127.0.0.1:5066"
	set(b)
	g.reconcile(user, "acct_1")
	require.ElementsMatch(t, []string{"registered sip:b@127.0.0.1:5064 acct_1", "unregistered sip:a@127.0.0.1:5062 acct_1"}, log.take())

	b.Expires = time.Now().Add(50 * time.Millisecond)
	set(b)
	g.reconcile(user, "acct_1")
	require.Empty(t, log.take())
	require.Eventually(t, func() bool {
		got := log.take()
		if len(got) == 0 {
			return false
		}
		require.Equal(t, []string{"expired sip:b@127.0.0.1:5064 acct_1"}, got)
		return true
	}, 2*time.Second, 5*time.Millisecond)
	g.mu.Lock()
	require.Empty(t, g.announced, "a user with no contacts is forgotten")
	g.mu.Unlock()
}
