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

// A desk phone's leg is rated in both directions like a browser's: the
// server sends RTCP sender reports to baresip and reads its receiver
// reports, so the live quality of the SIP leg carries a round-trip time
// and the sent direction's MOS — over plain RTP and over SRTP (SRTCP).
func TestCallQualityDeskPhoneLeg(t *testing.T) {
	tests := []struct {
		name  string
		start func(t *testing.T) (*harness.Server, *harness.Baresip, *softphone.Call)
	}{
		{"rtp", func(t *testing.T) (*harness.Server, *harness.Baresip, *softphone.Call) {
			s := harness.Start(t, nil)
			desk, out := bobCallsDesk(t, s)
			return s, desk, out
		}},
		{"srtp", func(t *testing.T) (*harness.Server, *harness.Baresip, *softphone.Call) {
			s, cert := startSRTPServer(t)
			desk := srtpDeskPhone(t, s, cert)
			out := dial(t, s.Phone(t, s.Bob, 1000, ""), "101")
			harness.Wait(t, out, protocol.TypeCallAnswered)
			srtpEnabled(t, desk)
			return s, desk, out
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, desk, out := tt.start(t)
			harness.HearsTone(t, out, 440)
			var q map[string]any
			// Reports every ~5 s each way: an RTT needs our SR and the
			// phone's RR after it, then a 5-s window to carry it.
			harness.CheckFor(t, 30*time.Second, func() error {
				calls := liveCalls(t, s, admin)
				if len(calls) != 1 {
					return strErr(fmt.Sprintf("%d live calls", len(calls)))
				}
				callee := liveLegs(calls[0])["callee"]
				if callee["kind"] != "sip" {
					return strErr(fmt.Sprintf("callee leg %v", callee))
				}
				q, _ = callee["quality"].(map[string]any)
				if q == nil || q["rtt_ms"] == nil || q["sent"] == nil {
					return strErr(fmt.Sprintf("the desk phone's leg has no RTT or sent direction yet: %v", q))
				}
				return nil
			})
			rtt := q["rtt_ms"].(float64)
			require.Greater(t, rtt, 0.0)
			require.Less(t, rtt, 500.0, "loopback: a few ms, more on a busy machine; a unit slip is far more")
			sent := q["sent"].(map[string]any)
			require.GreaterOrEqual(t, sent["mos"].(float64), 4.1, "what the phone heard: %v", sent)
			t.Logf("desk phone leg: RTT %.2f ms, received MOS %v, sent MOS %v", rtt, q["mos"], sent["mos"])
			require.NoError(t, out.Hangup())
			harness.WaitEnded(t, out, protocol.EndHangup)
			hungUp(t, desk)
			require.NotContains(t, desk.Output(), "srtp: failed to decrypt RTCP")
		})
	}
}
