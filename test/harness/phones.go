package harness

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/softphone"
)

// Phone connects a softphone for u sending a tone at freq (0: silence)
// with codec (empty: Opus). It is closed when the test ends.
func (s *Server) Phone(t testing.TB, u store.User, freq float64, codec audio.Codec) *softphone.Phone {
	t.Helper()
	var src audio.Source = audio.Silence()
	if freq > 0 {
		src = audio.NewTone(freq, softphone.SourceRate, 0.3)
	}
	if codec == "" {
		codec = audio.Opus
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := softphone.Connect(ctx, softphone.Config{URL: s.WebSocketURL(), Token: s.Token(t, u, time.Hour),
		Codec: codec, Source: src})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// Ctx returns a context that ends after d or with the test.
func Ctx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// NextIncoming waits for the phone's next inbound call.
func NextIncoming(t testing.TB, p *softphone.Phone) *softphone.Call {
	t.Helper()
	select {
	case c := <-p.Incoming():
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no incoming call")
		return nil
	}
}

// Wait waits for a frame of type typ on the call.
func Wait(t testing.TB, c *softphone.Call, typ protocol.Type) protocol.Message {
	t.Helper()
	m, err := c.WaitFor(Ctx(t, 15*time.Second), typ)
	require.NoError(t, err, "waiting for %s on %s", typ, c.ID)
	return m
}

// WaitEnded waits for call.ended with reason.
func WaitEnded(t testing.TB, c *softphone.Call, reason protocol.EndReason) *protocol.CallEnded {
	t.Helper()
	e := Wait(t, c, protocol.TypeCallEnded).(*protocol.CallEnded)
	require.Equal(t, reason, e.Reason, "call %s", c.ID)
	return e
}

// HearsTone polls until the call's detector hears freq clearly.
func HearsTone(t testing.TB, c *softphone.Call, freq float64) {
	t.Helper()
	CheckFor(t, 10*time.Second, func() error {
		if n := c.Detector().Samples(); n < softphone.SourceRate/2 {
			return fmt.Errorf("call %s: only %d samples heard", c.ID, n)
		}
		if l := c.Detector().Level(freq); l < 0.5 {
			return fmt.Errorf("call %s: %.0f Hz level %.2f (dominant %.0f Hz, rms %.3f)", c.ID, freq, l,
				c.Detector().Dominant(100, 3500), c.Detector().RMS())
		}
		return nil
	})
}
