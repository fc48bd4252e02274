package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/test/harness"
)

func TestDeskPhoneRegisters(t *testing.T) {
	s := harness.Start(t, nil)
	phone := harness.StartBaresip(t, harness.BaresipOptions{User: "101", Password: "alice-sip-pass", Registrar: s.SIP.Addr()})
	harness.CheckFor(t, 10*time.Second, func() error {
		cs := s.SIP.Registrar.Contacts(s.Alice.ID)
		if len(cs) != 1 {
			return strErr("alice's phone is not registered yet")
		}
		if !strings.Contains(cs[0].URI, phone.SIPAddr[strings.LastIndex(phone.SIPAddr, ":"):]) {
			return strErr("contact " + cs[0].URI + " is not the phone's " + phone.SIPAddr)
		}
		return nil
	})
}

func TestDeskPhoneWrongPasswordIsBanned(t *testing.T) {
	s := harness.Start(t, func(c *config.Config) { c.SIP.BanAfter = 1 })
	phone := harness.StartBaresip(t, harness.BaresipOptions{User: "102", Password: "wrong", Registrar: s.SIP.Addr()})
	harness.CheckFor(t, 10*time.Second, func() error {
		if !strings.Contains(phone.Output(), "403") {
			return strErr("no 403 yet")
		}
		return nil
	})
	require.Empty(t, s.SIP.Registrar.Contacts(s.Bob.ID))
	// The address is banned now: the right password from it is refused too.
	good := harness.StartBaresip(t, harness.BaresipOptions{User: "102", Password: "bob-sip-pass", Registrar: s.SIP.Addr()})
	harness.CheckFor(t, 10*time.Second, func() error {
		if !strings.Contains(good.Output(), "403") {
			return strErr("no 403 for the banned address yet:\n" + good.Output())
		}
		return nil
	})
	require.Empty(t, s.SIP.Registrar.Contacts(s.Bob.ID))
}

func registered(t *testing.T, s *harness.Server, user store.User, n int) {
	t.Helper()
	harness.CheckFor(t, 10*time.Second, func() error {
		if len(s.SIP.Registrar.Contacts(user.ID)) != n {
			return strErr("desk phone not registered yet")
		}
		return nil
	})
}

func TestBrowserCallsDeskPhone(t *testing.T) {
	s := harness.Start(t, nil)
	desk := harness.StartBaresip(t, harness.BaresipOptions{User: "101", Password: "alice-sip-pass",
		Registrar: s.SIP.Addr(), ToneHz: 440})
	registered(t, s, s.Alice, 1)
	bob := s.Phone(t, s.Bob, 1000, "")
	out := dial(t, bob, "101")
	harness.Wait(t, out, protocol.TypeCallAnswered) // baresip answers by itself
	harness.HearsTone(t, out, 440)                  // the desk phone's tone, transcoded PCMU→Opus
	harness.HearsFor(t, out, 2*time.Second)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	harness.CheckFor(t, 10*time.Second, func() error {
		if !strings.Contains(desk.Output(), "closed") {
			return strErr("the desk phone did not get the BYE")
		}
		return nil
	})
	desk.HeardTone(t, 1000)
	rec := record(t, s, out.ID)
	legs := rec["legs"].([]any)
	require.Equal(t, "sip", legs[1].(map[string]any)["kind"])
	require.Equal(t, "pcmu", legs[1].(map[string]any)["codec"])
}

func TestDeskPhoneCallsBrowser(t *testing.T) {
	s := harness.Start(t, nil)
	desk := harness.StartBaresip(t, harness.BaresipOptions{User: "101", Password: "alice-sip-pass",
		Registrar: s.SIP.Addr(), ToneHz: 440})
	registered(t, s, s.Alice, 1)
	bob := s.Phone(t, s.Bob, 1000, "")
	desk.Command(t, "dial", "sip:102@"+s.SIP.Addr())
	in := harness.NextIncoming(t, bob)
	require.Equal(t, "101", in.From)
	require.Equal(t, "Alice", in.FromName)
	answer(t, in)
	harness.Wait(t, in, protocol.TypeCallAnswered)
	harness.HearsTone(t, in, 440)
	harness.HearsFor(t, in, 2*time.Second)
	require.NoError(t, in.Hangup())
	harness.WaitEnded(t, in, protocol.EndHangup)
	harness.CheckFor(t, 10*time.Second, func() error {
		if !strings.Contains(desk.Output(), "closed") {
			return strErr("the desk phone did not get the BYE")
		}
		return nil
	})
	desk.HeardTone(t, 1000)
}
