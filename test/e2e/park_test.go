package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// parkCall has Bob's browser park Alice's call (Alice 440 Hz, Bob 1000
// Hz) and returns Alice's call, once she hears music in slot 701, and
// Bob's phone.
func parkCall(t *testing.T, s *harness.Server) (out *softphone.Call, bob *softphone.Phone) {
	t.Helper()
	alice := s.Phone(t, s.Alice, 440, "")
	bob = s.Phone(t, s.Bob, 1000, "")
	out, in := harness.Connected(t, alice, bob, s.Bob.Extension)
	harness.HearsTone(t, out, 1000)
	require.NoError(t, in.Park())
	parked := harness.Wait(t, in, protocol.TypeCallParked).(*protocol.CallParked)
	require.Equal(t, "701", parked.Slot)
	harness.WaitEnded(t, in, protocol.EndTransferred)
	harness.HearsMusic(t, out, 1000)
	return out, bob
}

// TestParkPickupFromDeskPhone: Bob's browser parks Alice; Carol's desk
// phone (baresip) dials 701 and the two hear each other; a watcher sees
// slot 701 go on_call and back to available; a second pickup of the
// slot finds it empty (404).
func TestParkPickupFromDeskPhone(t *testing.T) {
	s := harness.Start(t, nil)
	slot := store.User{ID: ident.UserID("park.701")}
	watch := newWatcher(t, s, s.Carol)
	l := watch.subscribe("p1", string(slot.ID), "park.702")
	require.Len(t, l.Users, 2)
	require.Equal(t, protocol.PresenceAvailable, l.Users[0].Status)
	require.Equal(t, "Park 701", l.Users[0].Name)

	desk := harness.StartBaresip(t, harness.BaresipOptions{User: "103", Password: "carol-sip-pass",
		Registrar: s.SIP.Addr(), ToneHz: 700})
	registered(t, s, s.Carol, 1)
	out, _ := parkCall(t, s)
	busy, _ := watch.until(slot, protocol.PresenceOnCall)
	require.Equal(t, "park.701", busy.UserID)

	dialled := time.Now()
	desk.Command(t, "dial", "sip:701@"+s.SIP.Addr())
	desk.WaitPrinted(t, "Call established", "the pickup is answered")
	out.Detector().Reset()
	harness.HearsTone(t, out, 700)
	desk.HeardTone(t, 440)
	_, idleAt := watch.until(slot, protocol.PresenceAvailable)
	t.Logf("slot 701 shown available %v after the desk phone dialled it", idleAt.Sub(dialled).Round(time.Millisecond))

	desk.Command(t, "hangup", "")
	harness.WaitEnded(t, out, protocol.EndHangup)
	desk.Command(t, "dial", "sip:701@"+s.SIP.Addr())
	desk.WaitPrinted(t, "404 Not Found", "an empty slot answers 404")

	rec := record(t, s, out.ID)
	require.Contains(t, rec["transfer"], "parked by "+string(s.Bob.ID)+" in 701; picked up from park slot 701")
}

// TestParkEmptySlot: dialling a slot nobody parked in fails at once.
func TestParkEmptySlot(t *testing.T) {
	s := harness.Start(t, nil)
	carol := s.Phone(t, s.Carol, 700, "")
	c, err := carol.Call(harness.Ctx(t, 10*time.Second), "705")
	require.NoError(t, err)
	e := harness.Wait(t, c, protocol.TypeError).(*protocol.Error)
	require.Equal(t, protocol.CodeCallFailed, e.Code)
	require.Contains(t, e.Message, "park slot 705 is empty")
	harness.WaitEnded(t, c, protocol.EndFailed)
}

// TestParkTimeoutRingsParkerBack: nobody picks the call up; after
// park.timeout Bob's browser rings with Alice as the caller, he answers
// and they hear each other again.
func TestParkTimeoutRingsParkerBack(t *testing.T) {
	s := harness.Start(t, func(c *config.Config) { c.Park.Timeout = 2 * time.Second })
	out, bob := parkCall(t, s)
	back := harness.NextIncoming(t, bob)
	require.Equal(t, s.Alice.Extension, back.From, "the parked party calls")
	require.Equal(t, "701", back.To)
	require.NoError(t, back.Answer(harness.Ctx(t, 10*time.Second)))
	harness.Wait(t, back, protocol.TypeCallAnswered)
	out.Detector().Reset()
	harness.HearsTone(t, out, 1000)
	harness.HearsTone(t, back, 440)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, back, protocol.EndHangup)
	rec := record(t, s, out.ID)
	require.Contains(t, rec["transfer"], "not picked up, recalling the parker; answered by "+string(s.Bob.ID))
}

// TestParkByDeskPhoneREFER: a desk phone (sipp as Carol) calls Alice and
// blind-transfers her to *70 (REFER): Alice is parked in 701 and hears
// music; Bob's browser dials 701 and the two hear each other.
func TestParkByDeskPhoneREFER(t *testing.T) {
	s := harness.Start(t, func(c *config.Config) { c.SIP.MD5OnlyAgents = append(c.SIP.MD5OnlyAgents, "SIPp") })
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	sipp := harness.StartSipp(t, harness.SippOptions{Scenario: "uac_blind_refer.xml", Remote: s.SIP.Addr(),
		Service: s.Alice.Extension, Keys: map[string]string{"consult": "*70", "user": "103"},
		Args: []string{"-au", "103", "-ap", "carol-sip-pass", "-aa"}})
	fromDesk := harness.NextIncoming(t, alice)
	answer(t, fromDesk)
	harness.Wait(t, fromDesk, protocol.TypeCallAnswered)
	sipp.RequireSuccess(t)
	require.Contains(t, sipp.Messages(), "Subscription-State: terminated")
	harness.HearsMusic(t, fromDesk, 440)

	pickup, err := bob.Call(harness.Ctx(t, 10*time.Second), "701")
	require.NoError(t, err)
	harness.Wait(t, pickup, protocol.TypeCallAnswered)
	fromDesk.Detector().Reset()
	harness.HearsTone(t, fromDesk, 1000)
	harness.HearsTone(t, pickup, 440)
	require.NoError(t, pickup.Hangup())
	harness.WaitEnded(t, fromDesk, protocol.EndHangup)
	rec := record(t, s, pickup.ID)
	require.Equal(t, "picked up "+string(s.Alice.ID)+" from park slot 701", rec["transfer"])
}

// TestParkBLF: a desk phone's BLF key on 701 (SUBSCRIBE, dialog package)
// shows the slot confirmed while a call is parked there and terminated
// once it is picked up.
func TestParkBLF(t *testing.T) {
	s := harness.Start(t, nil)
	carol := newBLFPhone(t, s.SIP.Addr(), s.Carol.SIPUsername, s.Carol.SIPPassword)
	reg := carol.request("REGISTER", "sip:127.0.0.1", "reg-"+ident.Short(), "r1", "", "Expires: 600\n")
	require.Equal(t, 200, reg.StatusCode, reg.String())
	key, _, _ := carol.subscribe("701")

	out, _ := parkCall(t, s)
	carol.notifyWith(key, `<state>confirmed</state>`, `<remote><identity>sip:`+s.Alice.Extension+`@`)
	phone := s.Phone(t, s.Carol, 700, "")
	pickup, err := phone.Call(harness.Ctx(t, 10*time.Second), "701")
	require.NoError(t, err)
	pickedAt := time.Now()
	terminated := carol.notifyWith(key, `<state>terminated</state>`)
	harness.Wait(t, pickup, protocol.TypeCallAnswered)
	out.Detector().Reset()
	harness.HearsTone(t, out, 700)
	t.Logf("BLF 701: terminated %v after the pickup was placed", max(0, terminated.at.Sub(pickedAt)).Round(time.Millisecond))

	// A slot outside the range is nobody.
	res := carol.request("SUBSCRIBE", "sip:799@127.0.0.1", "blf-"+ident.Short(), "x1", "",
		"Event: dialog\nAccept: application/dialog-info+xml\nExpires: 600\n")
	require.Equal(t, 404, res.StatusCode)
}
