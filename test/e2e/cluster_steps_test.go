package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// Steps of the cluster call tests, each waiting (polling) for what both
// ends see.

// ringAll waits until call out rings each device (one call.incoming per
// device, all with out's id) and out hears call.ringing, and returns the
// devices' calls in order.
func ringAll(t *testing.T, out *softphone.Call, devices ...*softphone.Phone) []*softphone.Call {
	t.Helper()
	ins := make([]*softphone.Call, len(devices))
	for i, d := range devices {
		ins[i] = harness.NextIncoming(t, d)
		require.Equal(t, out.ID, ins[i].ID)
	}
	harness.Wait(t, out, protocol.TypeCallRinging)
	return ins
}

// answerOn answers on ins[winner], waits until both ends hear
// call.answered (returning when the answer was sent) and the other
// devices hear answered-elsewhere.
func answerOn(t *testing.T, out *softphone.Call, ins []*softphone.Call, winner int) time.Time {
	t.Helper()
	at := time.Now()
	answer(t, ins[winner])
	harness.Wait(t, ins[winner], protocol.TypeCallAnswered)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	for i, in := range ins {
		if i != winner {
			harness.WaitEnded(t, in, protocol.EndAnsweredElsewhere)
		}
	}
	return at
}

// holdResume: holder holds (the other side hears music, not holder's
// tone, and a second hold is refused), then resumes (holder's tone is
// back).
func holdResume(t *testing.T, holder, other *softphone.Call, holderHz float64) {
	t.Helper()
	require.NoError(t, holder.Hold())
	require.Equal(t, protocol.HeldLocal, heldBy(t, harness.Wait(t, holder, protocol.TypeCallHeld)))
	require.Equal(t, protocol.HeldRemote, heldBy(t, harness.Wait(t, other, protocol.TypeCallHeld)))
	harness.HearsMusic(t, other, holderHz)
	require.NoError(t, holder.Hold())
	require.Equal(t, protocol.CodeInvalidMessage, harness.Wait(t, holder, protocol.TypeError).(*protocol.Error).Code)
	require.NoError(t, holder.Resume())
	harness.Wait(t, holder, protocol.TypeCallResumed)
	harness.Wait(t, other, protocol.TypeCallResumed)
	other.Detector().Reset()
	harness.HearsTone(t, other, holderHz)
}

// dtmfBothWays sends digits a → b and b → a (RFC 4733 on the media path)
// and waits until each side has received what the other sent so far.
func dtmfBothWays(t *testing.T, a, b *softphone.Call, aSends, bSends string) {
	t.Helper()
	wantB, wantA := string(b.DTMF())+aSends, string(a.DTMF())+bSends
	require.NoError(t, a.SendDTMF(aSends))
	require.NoError(t, b.SendDTMF(bSends))
	harness.CheckFor(t, 10*time.Second, func() error {
		if gotB, gotA := string(b.DTMF()), string(a.DTMF()); gotB != wantB || gotA != wantA {
			return fmt.Errorf("b got %q (want %q), a got %q (want %q)", gotB, wantB, gotA, wantA)
		}
		return nil
	})
}

// blindTransfer: in transfers out blind to ext, whose phone target
// answers; out and the target hear each other. It returns the target's
// call.
func blindTransfer(t *testing.T, out, in *softphone.Call, target *softphone.Phone, ext string, outHz, targetHz float64) *softphone.Call {
	t.Helper()
	require.NoError(t, in.Transfer(ext))
	harness.WaitEnded(t, in, protocol.EndTransferred)
	got := harness.NextIncoming(t, target)
	answer(t, got)
	harness.Wait(t, got, protocol.TypeCallAnswered)
	out.Detector().Reset()
	harness.HearsTone(t, out, targetHz)
	harness.HearsTone(t, got, outHz)
	return got
}

// transferTones are the tones the three parties of a transfer send.
type transferTones struct{ out, in, target float64 }

// attendedTransfer: in (talking to out) consults ext, whose phone target
// answers (out waits on hold; in and the target hear each other); in
// completes the transfer; out is resumed and talks to the target. It
// returns the consult call and the target's call.
func attendedTransfer(t *testing.T, out, in *softphone.Call, target *softphone.Phone, ext string, hz transferTones) (cons, got *softphone.Call) {
	t.Helper()
	cons = consult(t, in, ext)
	require.Equal(t, protocol.HeldRemote, heldBy(t, harness.Wait(t, out, protocol.TypeCallHeld)))
	got = harness.NextIncoming(t, target)
	answer(t, got)
	harness.Wait(t, cons, protocol.TypeCallAnswered)
	harness.HearsTone(t, cons, hz.target)
	harness.HearsTone(t, got, hz.in)
	require.NoError(t, in.CompleteTransfer())
	harness.WaitEnded(t, in, protocol.EndTransferred)
	harness.WaitEnded(t, cons, protocol.EndTransferred)
	harness.Wait(t, out, protocol.TypeCallResumed)
	out.Detector().Reset()
	got.Detector().Reset()
	harness.HearsTone(t, out, hz.target)
	harness.HearsTone(t, got, hz.out)
	return cons, got
}

// nodeSIP is the SIP address of node as from lists it.
func nodeSIP(t *testing.T, from *harness.Process, node string) string {
	t.Helper()
	for _, n := range nodesOn(t, from) {
		if n.Node == node {
			return n.SIP
		}
	}
	t.Fatalf("no node %s in %s's list", node, from.Addr)
	return ""
}
