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

// HearsMusic polls until the call hears music on hold: sound that is not
// the tone notFreq.
func HearsMusic(t testing.TB, c *softphone.Call, notFreq float64) {
	t.Helper()
	c.Detector().Reset()
	CheckFor(t, 10*time.Second, func() error {
		d := c.Detector()
		if d.Samples() < softphone.SourceRate/2 || d.RMS() < 0.02 || d.Level(notFreq) > 0.1 {
			return fmt.Errorf("call %s: no music yet (rms %.3f, %.0f Hz level %.2f)", c.ID, d.RMS(), notFreq, d.Level(notFreq))
		}
		return nil
	})
}

// HearsSilence polls until the call's last half second is silent.
func HearsSilence(t testing.TB, c *softphone.Call) {
	t.Helper()
	c.Detector().Reset()
	CheckFor(t, 10*time.Second, func() error {
		d := c.Detector()
		if d.Samples() < softphone.SourceRate/2 || d.RMS() > 0.005 {
			return fmt.Errorf("call %s: not silent (rms %.4f, %d samples, dominant %.0f Hz)", c.ID, d.RMS(), d.Samples(), d.Dominant(100, 3500))
		}
		return nil
	})
}

// Connected places a call from caller to ext, answers it on callee and
// waits until both sides are answered.
func Connected(t testing.TB, caller, callee *softphone.Phone, ext string) (out, in *softphone.Call) {
	t.Helper()
	out, err := caller.Call(Ctx(t, 10*time.Second), ext)
	require.NoError(t, err)
	in = NextIncoming(t, callee)
	require.NoError(t, in.Answer(Ctx(t, 10*time.Second)))
	Wait(t, out, protocol.TypeCallAnswered)
	Wait(t, in, protocol.TypeCallAnswered)
	return out, in
}

// ExpectRefused sends msg and waits for the call's error with code.
func ExpectRefused(t testing.TB, p *softphone.Phone, c *softphone.Call, msg protocol.Message, code protocol.ErrorCode) {
	t.Helper()
	require.NoError(t, p.Send(msg))
	e := Wait(t, c, protocol.TypeError).(*protocol.Error)
	require.Equal(t, code, e.Code, e.Message)
}

// HearsFor waits until the call has heard at least d of audio in total.
func HearsFor(t testing.TB, c *softphone.Call, d time.Duration) {
	t.Helper()
	want := int64(d.Seconds() * softphone.SourceRate)
	start := c.Detector().Samples()
	CheckFor(t, d+10*time.Second, func() error {
		if got := c.Detector().Samples() - start; got < want {
			return fmt.Errorf("call %s: heard %d of %d samples", c.ID, got, want)
		}
		return nil
	})
}
