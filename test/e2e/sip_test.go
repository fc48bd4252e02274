package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
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
