package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/softphone"
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
	phone.WaitPrinted(t, "403", "no 403 yet")
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

// aliceDesk starts a baresip desk phone as alice (101) on s and waits
// until it is registered.
func aliceDesk(t *testing.T, s *harness.Server, o harness.BaresipOptions) *harness.Baresip {
	t.Helper()
	o.User, o.Password, o.Registrar = "101", "alice-sip-pass", s.SIP.Addr()
	desk := harness.StartBaresip(t, o)
	registered(t, s, s.Alice, 1)
	return desk
}

// bobCallsDesk has bob's browser (1000 Hz) call alice's desk phone (440
// Hz) and returns once the desk phone has answered (baresip answers by
// itself).
func bobCallsDesk(t *testing.T, s *harness.Server) (*harness.Baresip, *softphone.Call) {
	t.Helper()
	desk := aliceDesk(t, s, harness.BaresipOptions{ToneHz: 440})
	out := dial(t, s.Phone(t, s.Bob, 1000, ""), "101")
	harness.Wait(t, out, protocol.TypeCallAnswered)
	return desk, out
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
	desk, out := bobCallsDesk(t, s)
	harness.HearsTone(t, out, 440) // the desk phone's tone, transcoded PCMU→Opus
	harness.HearsFor(t, out, 2*time.Second)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	hungUp(t, desk)
	desk.HeardTone(t, 1000)
	rec := record(t, s, out.ID)
	legs := rec["legs"].([]any)
	require.Equal(t, "sip", legs[1].(map[string]any)["kind"])
	require.Equal(t, "pcmu", legs[1].(map[string]any)["codec"])
}

func TestDeskPhoneCallsBrowser(t *testing.T) {
	s := harness.Start(t, nil)
	desk := aliceDesk(t, s, harness.BaresipOptions{ToneHz: 440})
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
	hungUp(t, desk)
	desk.HeardTone(t, 1000)
}

func TestRingAllWithDeskPhone(t *testing.T) {
	s := harness.Start(t, nil)
	desk := aliceDesk(t, s, harness.BaresipOptions{Manual: true})
	tab1 := s.Phone(t, s.Alice, 0, "")
	tab2 := s.Phone(t, s.Alice, 700, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	out := dial(t, bob, "101")
	in1 := harness.NextIncoming(t, tab1)
	in2 := harness.NextIncoming(t, tab2)
	harness.CheckFor(t, 10*time.Second, func() error {
		if !strings.Contains(desk.Output(), "Incoming call") && !strings.Contains(desk.Output(), "incoming call") {
			return strErr("the desk phone is not ringing")
		}
		return nil
	})
	answer(t, in2)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	harness.WaitEnded(t, in1, protocol.EndAnsweredElsewhere)
	// The desk phone got a CANCEL saying the call was completed elsewhere.
	harness.CheckFor(t, 10*time.Second, func() error {
		o := desk.Output()
		if !strings.Contains(o, "closed") {
			return strErr("the desk phone still rings")
		}
		return nil
	})
	harness.HearsTone(t, out, 700)
	harness.HearsTone(t, in2, 1000)
}

func TestDeskPhoneAuthenticatesCalls(t *testing.T) {
	s := harness.Start(t, nil)
	// A phone with the wrong password registers nothing and places nothing.
	bad := harness.StartBaresip(t, harness.BaresipOptions{User: "101", Password: "wrong", Registrar: s.SIP.Addr()})
	bob := s.Phone(t, s.Bob, 0, "")
	bad.Command(t, "dial", "sip:102@"+s.SIP.Addr())
	select {
	case c := <-bob.Incoming():
		t.Fatalf("an unauthenticated phone reached bob: %s", c.ID)
	case <-time.After(2 * time.Second):
	}
	require.Equal(t, 0, s.Calls.Count())
}
