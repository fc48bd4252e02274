package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// record fetches the call record as the admin sees it.
func record(t *testing.T, s *harness.Server, id string) map[string]any {
	t.Helper()
	var r harness.Response
	harness.CheckFor(t, 5*time.Second, func() error {
		r = s.Do(t, "GET", "/v1/calls/"+id, admin, nil)
		if r.Status != 200 || r.Body["ended_at"] == nil {
			return strErr("record not closed: " + string(r.Raw))
		}
		return nil
	})
	return r.Body
}

func dial(t *testing.T, p *softphone.Phone, dest string) *softphone.Call {
	t.Helper()
	c, err := p.Call(harness.Ctx(t, 10*time.Second), dest)
	require.NoError(t, err)
	return c
}

func answer(t *testing.T, c *softphone.Call) {
	t.Helper()
	require.NoError(t, c.Answer(harness.Ctx(t, 10*time.Second)))
}

func TestCallAudioBothWays(t *testing.T) {
	for _, tt := range []struct {
		name        string
		callerCodec audio.Codec
		calleeCodec audio.Codec
	}{
		{"opus to opus", audio.Opus, audio.Opus},
		{"pcmu caller to opus callee (transcoded)", audio.PCMU, audio.Opus},
		{"opus caller to pcmu callee (transcoded)", audio.Opus, audio.PCMU},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := harness.Start(t, nil)
			alice := s.Phone(t, s.Alice, 440, tt.callerCodec)
			bob := s.Phone(t, s.Bob, 1000, tt.calleeCodec)

			out := dial(t, alice, "102")
			in := harness.NextIncoming(t, bob)
			require.Equal(t, out.ID, in.ID)
			require.Equal(t, "101", in.From)
			require.Equal(t, "Alice", in.FromName)
			require.Equal(t, "102", in.To)
			harness.Wait(t, out, protocol.TypeCallRinging)
			answer(t, in)
			a1 := harness.Wait(t, out, protocol.TypeCallAnswered).(*protocol.CallAnswered)
			a2 := harness.Wait(t, in, protocol.TypeCallAnswered).(*protocol.CallAnswered)
			require.Equal(t, a1.AnsweredAt, a2.AnsweredAt)

			harness.HearsTone(t, in, 440)
			harness.HearsTone(t, out, 1000)
			require.Less(t, in.Detector().Level(1000), 0.1, "bob must not hear his own tone")

			require.NoError(t, out.Hangup())
			e1 := harness.WaitEnded(t, out, protocol.EndHangup)
			e2 := harness.WaitEnded(t, in, protocol.EndHangup)
			require.NotNil(t, e1.DurationSeconds)
			require.NotNil(t, e2.DurationSeconds)

			rec := record(t, s, out.ID)
			require.Equal(t, "hangup", rec["end_reason"])
			require.Equal(t, "101", rec["from"])
			require.Equal(t, "102", rec["to"])
			require.Equal(t, string(s.Alice.ID), rec["from_user"])
			require.Equal(t, string(s.Bob.ID), rec["to_user"])
			require.Equal(t, bob.SessionID(), rec["answered_by"])
			require.NotNil(t, rec["answered_at"])
			legs := rec["legs"].([]any)
			require.Len(t, legs, 2)
			codecs := map[string]string{}
			for _, l := range legs {
				l := l.(map[string]any)
				codecs[l["role"].(string)] = l["codec"].(string)
				require.Greater(t, l["packets_received"].(float64), 10.0)
				require.Greater(t, l["packets_sent"].(float64), 10.0)
			}
			require.Equal(t, map[string]string{"caller": string(tt.callerCodec), "callee": string(tt.calleeCodec)}, codecs)
		})
	}
}

func TestRingAllFirstAnswerWins(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	bob1 := s.Phone(t, s.Bob, 0, "")
	bob2 := s.Phone(t, s.Bob, 700, "")

	out := dial(t, alice, "102")
	in1 := harness.NextIncoming(t, bob1)
	in2 := harness.NextIncoming(t, bob2)
	harness.Wait(t, out, protocol.TypeCallRinging)
	answer(t, in2)
	harness.WaitEnded(t, in1, protocol.EndAnsweredElsewhere)
	harness.Wait(t, in2, protocol.TypeCallAnswered)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	harness.HearsTone(t, in2, 440)
	harness.HearsTone(t, out, 700)

	// The loser's late answer changes nothing.
	require.NoError(t, bob1.Send(&protocol.CallAnswer{CallID: in1.ID}))
	require.NoError(t, in2.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	harness.WaitEnded(t, in2, protocol.EndHangup)
	rec := record(t, s, out.ID)
	require.Equal(t, bob2.SessionID(), rec["answered_by"])
	harness.CheckFor(t, 5*time.Second, func() error {
		if n := s.Calls.Count(); n != 0 {
			return strErr("calls left")
		}
		return nil
	})
}

func TestRejectAndBusy(t *testing.T) {
	for _, tt := range []struct {
		reasons []protocol.RejectReason
		want    protocol.EndReason
	}{
		{[]protocol.RejectReason{protocol.RejectDecline}, protocol.EndRejected},
		{[]protocol.RejectReason{""}, protocol.EndRejected},
		{[]protocol.RejectReason{protocol.RejectBusy}, protocol.EndBusy},
		{[]protocol.RejectReason{protocol.RejectDecline, protocol.RejectDecline}, protocol.EndRejected},
		{[]protocol.RejectReason{protocol.RejectDecline, protocol.RejectBusy}, protocol.EndBusy},
	} {
		t.Run(string(tt.want), func(t *testing.T) {
			s := harness.Start(t, nil)
			alice := s.Phone(t, s.Alice, 440, "")
			var bobs []*softphone.Phone
			for range tt.reasons {
				bobs = append(bobs, s.Phone(t, s.Bob, 0, ""))
			}
			out := dial(t, alice, "102")
			var ins []*softphone.Call
			for _, b := range bobs {
				ins = append(ins, harness.NextIncoming(t, b))
			}
			harness.Wait(t, out, protocol.TypeCallRinging)
			for i, in := range ins {
				require.NoError(t, in.Reject(tt.reasons[i]))
				harness.WaitEnded(t, in, protocol.EndRejected)
				if i < len(ins)-1 {
					// the others still ring: the caller has not ended
					_, ended := out.EndReason()
					require.False(t, ended)
				}
			}
			e := harness.WaitEnded(t, out, tt.want)
			require.Nil(t, e.DurationSeconds)
			require.Equal(t, string(tt.want), record(t, s, out.ID)["end_reason"])
		})
	}
}

func TestNoAnswerAndCancel(t *testing.T) {
	s := harness.Start(t, nil)
	one := 1
	_, err := s.Store.UpdateUser(context.Background(), s.Bob.ID, store.UserPatch{RingTimeoutSeconds: &one})
	require.NoError(t, err)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 0, "")

	out := dial(t, alice, "102")
	in := harness.NextIncoming(t, bob)
	harness.WaitEnded(t, out, protocol.EndNoAnswer)
	harness.WaitEnded(t, in, protocol.EndNoAnswer)
	require.Equal(t, "no-answer", record(t, s, out.ID)["end_reason"])

	// Caller cancels while ringing: the callee hears hangup.
	carol := s.Phone(t, s.Carol, 0, "")
	out = dial(t, alice, "103")
	in = harness.NextIncoming(t, carol)
	harness.Wait(t, out, protocol.TypeCallRinging)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, in, protocol.EndHangup)
	harness.WaitEnded(t, out, protocol.EndHangup)
	rec := record(t, s, out.ID)
	require.Equal(t, "hangup", rec["end_reason"])
	require.Nil(t, rec["answered_at"])
}

func TestImmediateOutcomes(t *testing.T) {
	s := harness.Start(t, nil)
	dnd := true
	_, err := s.Store.UpdateUser(context.Background(), s.Carol.ID, store.UserPatch{DoNotDisturb: &dnd})
	require.NoError(t, err)
	s.Phone(t, s.Carol, 0, "")
	alice := s.Phone(t, s.Alice, 440, "")
	for _, tt := range []struct {
		dest string
		want protocol.EndReason
	}{
		{"102", protocol.EndNoAnswer}, // bob has no device connected
		{"103", protocol.EndBusy},     // carol is on do-not-disturb
		{"199", protocol.EndFailed},   // no such extension
		{"+14155550199", protocol.EndFailed},
		{"bob", protocol.EndFailed},
		{"102;x", protocol.EndFailed},
	} {
		out := dial(t, alice, tt.dest)
		e := harness.WaitEnded(t, out, tt.want)
		require.Nil(t, e.DurationSeconds)
		require.Equal(t, string(tt.want), record(t, s, out.ID)["end_reason"], tt.dest)
	}
}

func TestCallToOwnedNumber(t *testing.T) {
	s := harness.Start(t, nil)
	r := s.Do(t, "POST", "/v1/phone_numbers", admin, map[string]any{"number": "+14155550102", "user": string(s.Bob.ID)})
	require.Equal(t, 201, r.Status)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 0, "")
	out := dial(t, alice, "+14155550102")
	in := harness.NextIncoming(t, bob)
	require.Equal(t, "+14155550102", in.To)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, in, protocol.EndHangup)
	harness.WaitEnded(t, out, protocol.EndHangup)
	for _, m := range out.History() {
		require.NotEqual(t, protocol.TypeError, m.MessageType(), "every trickled candidate was accepted: %#v", m)
	}
}

func TestIllegalRequestsChangeNothing(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	carol := s.Phone(t, s.Carol, 0, "")
	out := dial(t, alice, "102")
	in := harness.NextIncoming(t, bob)
	answer(t, in)
	harness.Wait(t, out, protocol.TypeCallAnswered)

	expectErr := func(p *softphone.Phone, c *softphone.Call, msg protocol.Message, code protocol.ErrorCode) {
		t.Helper()
		require.NoError(t, p.Send(msg))
		var e *softphone.ServerError
		if c != nil {
			m := harness.Wait(t, c, protocol.TypeError).(*protocol.Error)
			e = &softphone.ServerError{Code: m.Code, Message: m.Message, CallID: m.CallID}
		} else {
			select {
			case e = <-p.Errors():
			case <-time.After(5 * time.Second):
				t.Fatalf("no error for %T", msg)
			}
		}
		require.Equal(t, code, e.Code, e.Message)
	}
	expectErr(alice, out, &protocol.CallAnswer{CallID: out.ID}, protocol.CodeInvalidMessage)
	expectErr(alice, out, &protocol.CallReject{CallID: out.ID}, protocol.CodeInvalidMessage)
	expectErr(bob, in, &protocol.CallAnswer{CallID: in.ID}, protocol.CodeInvalidMessage) // already answered
	expectErr(alice, nil, &protocol.CallHangup{CallID: "call_unknown"}, protocol.CodeCallNotFound)
	expectErr(carol, nil, &protocol.CallHangup{CallID: out.ID}, protocol.CodeCallNotFound)
	expectErr(carol, nil, &protocol.CallAnswer{CallID: out.ID}, protocol.CodeCallNotFound)
	expectErr(bob, in, &protocol.SDPAnswer{CallID: in.ID, SDP: "v=0"}, protocol.CodeInvalidMessage)

	// The call is untouched: still connected, audio both ways.
	harness.HearsTone(t, in, 440)
	harness.HearsTone(t, out, 1000)
	_, ended := out.EndReason()
	require.False(t, ended)
	require.NoError(t, in.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
}

func TestCreateErrors(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 0, "")
	// caller_id the account does not own: an error and no call.
	_, err := alice.Call(harness.Ctx(t, 10*time.Second), "102", softphone.WithCallerID("+19995550100"))
	var se *softphone.ServerError
	require.ErrorAs(t, err, &se)
	require.Equal(t, protocol.CodeInvalidMessage, se.Code)
	require.Equal(t, 0, s.Calls.Count())

	// Malformed SDP: call.trying, an error naming the call, then failed.
	reply, err := alice.Request(harness.Ctx(t, 10*time.Second), &protocol.CallCreate{Destination: "102", SDP: "not sdp"})
	require.NoError(t, err)
	trying, ok := reply.(*protocol.CallTrying)
	require.True(t, ok, "%#v", reply)
	harness.CheckFor(t, 5*time.Second, func() error {
		r := s.Do(t, "GET", "/v1/calls/"+trying.CallID, admin, nil)
		if r.Body["end_reason"] != "failed" {
			return strErr(string(r.Raw))
		}
		return nil
	})
}

func TestPartyGoneAfterGrace(t *testing.T) {
	s := harness.Start(t, func(c *config.Config) { c.Signal.ReconnectGrace = 500 * time.Millisecond })
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	out := dial(t, alice, "102")
	in := harness.NextIncoming(t, bob)
	answer(t, in)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	require.NoError(t, bob.Close())
	harness.WaitEnded(t, out, protocol.EndHangup)
	require.Equal(t, "hangup", record(t, s, out.ID)["end_reason"])
}

func TestCallHistoryScopes(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 0, "")
	out := dial(t, alice, "102") // bob offline: no-answer
	harness.WaitEnded(t, out, protocol.EndNoAnswer)
	carol := s.Phone(t, s.Carol, 0, "")
	c2 := dial(t, carol, "199")
	harness.WaitEnded(t, c2, protocol.EndFailed)
	record(t, s, c2.ID)

	all := s.Do(t, "GET", "/v1/calls", admin, nil)
	require.Len(t, all.Body["data"], 2)
	mine := s.Do(t, "GET", "/v1/calls", s.Token(t, s.Alice, time.Hour), nil)
	require.Equal(t, 200, mine.Status)
	require.Len(t, mine.Body["data"], 1)
	require.Equal(t, out.ID, mine.Body["data"].([]any)[0].(map[string]any)["id"])
	bobs := s.Do(t, "GET", "/v1/calls", s.Token(t, s.Bob, time.Hour), nil)
	require.Len(t, bobs.Body["data"], 1, "bob was called")
	require.Equal(t, 404, s.Do(t, "GET", "/v1/calls/"+c2.ID, s.Token(t, s.Alice, time.Hour), nil).Status)
	require.Equal(t, 401, s.Do(t, "GET", "/v1/calls", "", nil).Status)
	page := s.Do(t, "GET", "/v1/calls?limit=1", admin, nil)
	require.Equal(t, true, page.Body["has_more"])
}

func TestOpenRecordsClosedAtStartup(t *testing.T) {
	dir := t.TempDir()
	s := harness.Start(t, func(c *config.Config) { c.DataDir = dir })
	rec := store.CallRecord{ID: ident.CallID("call_crashed"), AccountID: s.Account, Direction: "internal",
		From: "101", To: "102", StartedAt: time.Now().UTC()}
	require.NoError(t, s.Store.CreateCallRecord(context.Background(), &rec))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.Shutdown(ctx))

	s2 := harness.Start(t, func(c *config.Config) { c.DataDir = dir })
	got, err := s2.Store.GetCallRecord(context.Background(), "call_crashed")
	require.NoError(t, err)
	require.NotNil(t, got.EndedAt)
	require.Equal(t, "failed", got.EndReason)
}

func TestTrickledCandidates(t *testing.T) {
	s := harness.Start(t, nil)
	alice := s.Phone(t, s.Alice, 440, "")
	bob := s.Phone(t, s.Bob, 1000, "")
	out, err := alice.Call(harness.Ctx(t, 10*time.Second), "102", softphone.WithTrickle())
	require.NoError(t, err)
	in := harness.NextIncoming(t, bob)
	answer(t, in)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	harness.HearsTone(t, in, 440)
	harness.HearsTone(t, out, 1000)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, in, protocol.EndHangup)
	harness.WaitEnded(t, out, protocol.EndHangup)
	for _, m := range out.History() {
		require.NotEqual(t, protocol.TypeError, m.MessageType(), "every trickled candidate was accepted: %#v", m)
	}
}
