package sipua

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBansPerSourceAndUser(t *testing.T) {
	b := newBans(3, time.Minute, 10*time.Minute)
	now := time.Unix(1e9, 0)
	for range 3 {
		b.fail("10.0.0.1", "101", now)
	}
	require.True(t, b.check("10.0.0.1", "101", now).banned, "the failing username is banned from that source")
	require.False(t, b.check("10.0.0.1", "102", now).banned, "other phones behind the same address are not")
	require.False(t, b.check("10.0.0.1", "", now).banned)
	require.False(t, b.check("10.0.0.1", "101", now.Add(10*time.Minute)).banned, "bans expire")
}

func TestBansScannerSource(t *testing.T) {
	b := newBans(3, time.Minute, 10*time.Minute)
	now := time.Unix(1e9, 0)
	var scopes []string
	for i := range 3 {
		scopes = append(scopes, b.fail("10.0.0.2", fmt.Sprint(200+i), now)...)
	}
	require.Contains(t, scopes, "source")
	require.True(t, b.check("10.0.0.2", "", now).banned, "a source failing as many users is banned whole")
}

func TestBansUserBackoff(t *testing.T) {
	b := newBans(3, time.Minute, 10*time.Minute)
	now := time.Unix(1e9, 0)
	b.succeed("192.0.2.10", "101", now) // 101's own desk phone
	// A guesser spread over many addresses, one try each.
	for i := range 3 {
		b.fail(fmt.Sprintf("10.1.0.%d", i), "101", now)
	}
	v := b.check("10.1.0.99", "101", now)
	require.False(t, v.banned)
	require.Equal(t, time.Second, v.retryAfter, "a new source backs off")
	require.Zero(t, b.check("192.0.2.10", "101", now).retryAfter, "the user's own phone does not")
	require.Zero(t, b.check("10.1.0.99", "102", now).retryAfter, "other users do not")

	for i := range 4 {
		b.fail(fmt.Sprintf("10.2.0.%d", i), "101", now)
	}
	require.Equal(t, 16*time.Second, b.check("10.1.0.99", "101", now).retryAfter, "exponential")
	require.Zero(t, b.check("10.1.0.99", "101", now.Add(16*time.Second)).retryAfter)

	// Failures expire with the window: the back-off starts over.
	later := now.Add(2 * time.Minute)
	b.fail("10.3.0.1", "101", later)
	require.Zero(t, b.check("10.1.0.99", "101", later).retryAfter)
}

func TestBansKnownPhoneWithStalePasswordIsNotAGuesser(t *testing.T) {
	b := newBans(3, time.Minute, 10*time.Minute)
	now := time.Unix(1e9, 0)
	b.succeed("192.0.2.10", "101", now)
	for range 2 {
		b.fail("192.0.2.10", "101", now)
	}
	require.Zero(t, b.check("10.9.9.9", "101", now).retryAfter)
}
