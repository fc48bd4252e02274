package e2e

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/config"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
)

// qualityPhone connects u's phone asking for call.quality frames, its
// outgoing audio impaired when imp is set.
func qualityPhone(t *testing.T, s *harness.Server, u store.User, freq float64, imp *softphone.Impairment) *softphone.Phone {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := softphone.Connect(ctx, softphone.Config{URL: s.WebSocketURL(), Token: s.Token(t, u, time.Hour),
		Codec: audio.Opus, Source: audio.NewTone(freq, softphone.SourceRate, 0.3),
		Features: []string{protocol.FeatureQuality}, Impairment: imp})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// qualityFrames returns the call.quality frames c got, in order (c has
// ended: every frame went through WaitFor).
func qualityFrames(t *testing.T, c *softphone.Call) []*protocol.CallQuality {
	t.Helper()
	var out []*protocol.CallQuality
	for _, m := range c.History() {
		if q, ok := m.(*protocol.CallQuality); ok {
			require.Equal(t, c.ID, q.CallID)
			out = append(out, q)
		}
	}
	return out
}

func meanMOS(qs []*protocol.CallQuality) float64 {
	var sum float64
	for _, q := range qs {
		sum += q.MOS
	}
	return sum / float64(len(qs))
}

// A caller whose sending loses 5 % of its packets and jitters by up to
// 30 ms rates lower than the clean direction: in the record's summaries,
// in the live series while the call is up, and in the call.quality frames
// each side gets about its own leg.
func TestCallQualityImpairedDirection(t *testing.T) {
	s := harness.Start(t, nil)
	alice := qualityPhone(t, s, s.Alice, 440, &softphone.Impairment{LossPct: 5, JitterMax: 30 * time.Millisecond, Seed: 17})
	bob := qualityPhone(t, s, s.Bob, 1000, nil)
	out := dial(t, alice, "102")
	in := harness.NextIncoming(t, bob)
	answer(t, in)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	harness.HearsTone(t, in, 440)
	harness.HearsTone(t, out, 1000)

	// While the call is up, its series so far (the caller's leg first).
	var live harness.Response
	harness.CheckFor(t, 20*time.Second, func() error {
		live = s.Do(t, "GET", "/v1/calls/"+out.ID+"/quality", admin, nil)
		if live.Status != 200 {
			return strErr(string(live.Raw))
		}
		legs := live.Body["legs"].([]any)
		if len(legs) < 2 || len(legs[0].(map[string]any)["samples"].([]any)) < 3 {
			return strErr("fewer than three windows on each leg yet: " + string(live.Raw))
		}
		return nil
	})
	require.Equal(t, true, live.Body["live"], string(live.Raw))
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, in, protocol.EndHangup)
	harness.Wait(t, out, protocol.TypeCallEnded)

	rec := record(t, s, out.ID)
	avg := map[string]float64{}
	for _, l := range rec["legs"].([]any) {
		l := l.(map[string]any)
		q := l["quality"].(map[string]any)
		avg[l["role"].(string)] = q["avg_mos"].(float64)
		t.Logf("%s leg (%s): avg MOS %v, min %v, packets lost %v of %v", l["role"], l["codec"], q["avg_mos"], q["min_mos"],
			l["packets_lost"], l["packets_received"])
	}
	require.Less(t, avg["caller"], avg["callee"], "the impaired direction (alice → server) rates lower")
	require.GreaterOrEqual(t, avg["callee"], 4.3, "the clean direction, Opus")

	ended := s.Do(t, "GET", "/v1/calls/"+out.ID+"/quality", admin, nil)
	require.Equal(t, false, ended.Body["live"])

	aliceQ, bobQ := qualityFrames(t, out), qualityFrames(t, in)
	require.GreaterOrEqual(t, len(aliceQ), 3, "one call.quality per 5-s window")
	require.GreaterOrEqual(t, len(bobQ), 3)
	for _, qs := range [][]*protocol.CallQuality{aliceQ, bobQ} {
		last := qs[len(qs)-1]
		require.NotNil(t, last.RTT, "a browser leg's RTT is measured from RTCP")
		require.Greater(t, *last.RTT, 0.0)
	}
	t.Logf("call.quality: alice (impaired) mean MOS %.2f, first %+v; bob (clean) mean MOS %.2f, first %+v",
		meanMOS(aliceQ), *aliceQ[0], meanMOS(bobQ), *bobQ[0])
	require.Less(t, meanMOS(aliceQ), meanMOS(bobQ))
	var lost float64
	for _, q := range aliceQ {
		lost += q.Loss
	}
	require.Greater(t, lost/float64(len(aliceQ)), 1.0, "alice's leg shows the loss")
}

// A caller losing a quarter of its packets sounds bad for three windows:
// a real webhook receiver gets one call.quality alert naming that leg,
// signed like every event, while the call goes on.
func TestCallQualityAlertReachesWebhook(t *testing.T) {
	recv := &hookReceiver{t: t}
	recv.status.Store(200)
	hs := httptest.NewServer(recv)
	t.Cleanup(hs.Close)
	s := harness.Start(t, func(c *config.Config) {
		c.Webhooks = config.Webhooks{AllowPrivate: true, AllowHTTPHosts: []string{"127.0.0.1"},
			BackoffBase: 300 * time.Millisecond, BackoffMax: time.Second, Poll: 100 * time.Millisecond}
	})
	r := s.Do(t, "POST", "/v1/webhook_endpoints", admin, map[string]any{"url": hs.URL + "/hook",
		"events": []string{"call.quality"}})
	require.Equal(t, 201, r.Status, string(r.Raw))
	recv.secret.Store(r.Body["secret"].(string))

	alice := qualityPhone(t, s, s.Alice, 440, &softphone.Impairment{LossPct: 25, Seed: 3})
	bob := qualityPhone(t, s, s.Bob, 1000, nil)
	out := dial(t, alice, "102")
	in := harness.NextIncoming(t, bob)
	answer(t, in)
	harness.Wait(t, out, protocol.TypeCallAnswered)
	start := time.Now()
	var alert hookEvent
	harness.CheckFor(t, 30*time.Second, func() error {
		recv.mu.Lock()
		defer recv.mu.Unlock()
		for _, e := range recv.got {
			if e.Type == "call.quality" && e.CallID == out.ID {
				alert = e
				return nil
			}
		}
		return strErr("no call.quality event yet")
	})
	qa := alert.Data["quality_alert"].(map[string]any)
	t.Logf("call.quality alert %v after the answer: %v", time.Since(start).Round(time.Second), qa)
	require.Equal(t, "caller", qa["role"], "the impaired party's leg")
	require.Less(t, qa["mos"].(float64), 3.5)
	// Three 5-s windows from the answer (which the server saw a little
	// before this test did).
	require.GreaterOrEqual(t, time.Since(start), 14*time.Second, "three low windows first")
	require.Nil(t, alert.Data["ended_at"], "sent while the call is up")
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, in, protocol.EndHangup)
	require.Equal(t, []string{"call.quality"}, recv.types(out.ID), "one alert per dip")
}
