package e2e

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/audio"
	"github.com/switchboard-voice/switchboard/internal/protocol"
	"github.com/switchboard-voice/switchboard/internal/recording"
	"github.com/switchboard-voice/switchboard/internal/server"
	"github.com/switchboard-voice/switchboard/internal/store"
	"github.com/switchboard-voice/switchboard/softphone"
	"github.com/switchboard-voice/switchboard/test/harness"
	"github.com/switchboard-voice/switchboard/test/rest"
)

// recordingView is a recording as GET /v1/calls/{id} lists it.
type recordingView struct {
	ID         string             `json:"id"`
	Status     string             `json:"status"`
	StartedAt  time.Time          `json:"started_at"`
	DurationMS int64              `json:"duration_ms"`
	SizeBytes  int64              `json:"size_bytes"`
	Channels   int                `json:"channels"`
	SampleRate int                `json:"sample_rate"`
	Paused     []store.PausedSpan `json:"paused_spans"`
}

// finishedRecordings waits until the call's record lists n recordings,
// all completed.
func finishedRecordings(t *testing.T, get func(path string) harness.Response, callID string, n int) []recordingView {
	t.Helper()
	var recs []recordingView
	harness.CheckFor(t, 10*time.Second, func() error {
		r := get("/v1/calls/" + callID)
		var body struct {
			Recordings []recordingView `json:"recordings"`
		}
		if err := json.Unmarshal(r.Raw, &body); err != nil {
			return err
		}
		recs = body.Recordings
		if len(recs) != n {
			return fmt.Errorf("%d recordings listed: %s", len(recs), r.Raw)
		}
		for _, rec := range recs {
			if rec.Status != store.RecordingFinished {
				return fmt.Errorf("recording %s is %s", rec.ID, rec.Status)
			}
		}
		return nil
	})
	return recs
}

// waitRecording waits for call.recording in state st on c.
func waitRecording(t *testing.T, c *softphone.Call, st protocol.RecordingState) *protocol.CallRecording {
	t.Helper()
	m := harness.Wait(t, c, protocol.TypeCallRecording).(*protocol.CallRecording)
	require.Equal(t, st, m.State, "call %s", c.ID)
	return m
}

// recPhone is s.Phone with the "recording" feature: it hears of
// recordings it did not ask for.
func recPhone(t *testing.T, s *harness.Server, u store.User, freq float64, codec audio.Codec) *softphone.Phone {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := softphone.Connect(ctx, softphone.Config{URL: s.WebSocketURL(), Token: s.Token(t, u, time.Hour),
		Codec: codec, Source: audio.NewTone(freq, softphone.SourceRate, 0.3),
		Features: []string{protocol.FeatureRecording}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// noRecordingNotice requires that c got no call.recording frame.
func noRecordingNotice(t *testing.T, c *softphone.Call) {
	t.Helper()
	for _, m := range c.History() {
		require.NotEqual(t, protocol.TypeCallRecording, m.MessageType(), "call %s: %+v", c.ID, m)
	}
}

// download fetches a URL without credentials.
func download(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

func toneOf(a *recording.Audio, ch int, from, to time.Duration) (freq, rms float64) {
	pcm := a.Channels[ch][int(from.Seconds()*float64(a.Rate)):min(len(a.Channels[ch]), int(to.Seconds()*float64(a.Rate)))]
	d := audio.NewDetector(a.Rate, to-from)
	d.Write(pcm)
	return d.Dominant(200, 3000), d.RMS()
}

// TestRecordingTwoChannels records a call between two softphones (Opus
// and PCMU, each sending its own tone): started from the wire, paused and
// resumed over REST (by a user on the call and the admin), stopped from
// the wire. The file, fetched through its signed URL, has the caller's
// tone on channel 1, the callee's on channel 2, and silence where paused.
func TestRecordingTwoChannels(t *testing.T) {
	s := harness.Start(t, nil)
	r := s.Do(t, "PUT", "/v1/recording_policy", admin, map[string]any{"mode": "sometimes"})
	require.Equal(t, 422, r.Status, string(r.Raw))
	require.Equal(t, "mode", r.Body["details"].(map[string]any)["field"])
	r = s.Do(t, "PUT", "/v1/recording_policy", admin, map[string]any{"retention_days": 0})
	require.Equal(t, 422, r.Status, string(r.Raw))
	require.Equal(t, "retention_days", r.Body["details"].(map[string]any)["field"])

	alice := recPhone(t, s, s.Alice, 440, audio.Opus)
	bob := recPhone(t, s, s.Bob, 1000, audio.PCMU)
	out, in := harness.Connected(t, alice, bob, "102")
	harness.HearsTone(t, in, 440)
	harness.HearsTone(t, out, 1000)

	asked := time.Now()
	require.NoError(t, out.Record(protocol.RecordStart, "r1"))
	started := waitRecording(t, out, protocol.RecordingActive)
	require.Equal(t, "r1", started.ReqID)
	require.NotEmpty(t, started.RecordingID)
	other := waitRecording(t, in, protocol.RecordingActive)
	require.Empty(t, other.ReqID, "only the requester's copy has req_id")
	require.NoError(t, in.Record(protocol.RecordStart, "r2"))
	e := harness.Wait(t, in, protocol.TypeError).(*protocol.Error)
	require.Equal(t, "r2", e.ReqID)
	require.Equal(t, protocol.CodeInvalidMessage, e.Code, e.Message)

	harness.HearsFor(t, in, 2*time.Second)
	bobTok := s.Token(t, s.Bob, time.Hour)
	carolTok := s.Token(t, s.Carol, time.Hour)
	r = s.Do(t, "POST", "/v1/calls/"+out.ID+"/recording", carolTok, map[string]any{"action": "pause"})
	require.Equal(t, 404, r.Status, "a user not on the call: %s", r.Raw)
	r = s.Do(t, "POST", "/v1/calls/"+out.ID+"/recording", bobTok, map[string]any{"action": "rewind"})
	require.Equal(t, 422, r.Status, string(r.Raw))
	require.Equal(t, "action", r.Body["details"].(map[string]any)["field"])
	r = s.Do(t, "POST", "/v1/calls/"+out.ID+"/recording", bobTok, map[string]any{"action": "pause"})
	require.Equal(t, 200, r.Status, string(r.Raw))
	waitRecording(t, out, protocol.RecordingPaused)
	waitRecording(t, in, protocol.RecordingPaused)
	harness.HearsFor(t, in, 2*time.Second)
	r = s.Do(t, "POST", "/v1/calls/"+out.ID+"/recording", admin, map[string]any{"action": "resume"})
	require.Equal(t, 200, r.Status, string(r.Raw))
	waitRecording(t, out, protocol.RecordingActive)
	waitRecording(t, in, protocol.RecordingActive)
	harness.HearsFor(t, in, 2*time.Second)
	require.NoError(t, in.Record(protocol.RecordStop, "r3"))
	stopped := waitRecording(t, in, protocol.RecordingStopped)
	recorded := time.Since(asked)
	require.Equal(t, "r3", stopped.ReqID)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, in, protocol.EndHangup)

	get := func(path string) harness.Response { return s.Do(t, "GET", path, admin, nil) }
	recs := finishedRecordings(t, get, out.ID, 1)
	rec := recs[0]
	require.Equal(t, started.RecordingID, rec.ID)
	require.Equal(t, 2, rec.Channels)
	require.Len(t, rec.Paused, 1)
	t.Logf("recording %s: %d ms, %d bytes, paused %+v", rec.ID, rec.DurationMS, rec.SizeBytes, rec.Paused)
	// Three 2-s spans ran between start and stop. The writer follows the
	// wall clock (recording.Writer fills what is missing with silence), so
	// the file is as long as the time between the server's start and stop,
	// both inside the span the test measured.
	require.GreaterOrEqual(t, rec.DurationMS, int64(4500))
	require.LessOrEqual(t, rec.DurationMS, recorded.Milliseconds()+200)

	r = s.Do(t, "GET", "/v1/recordings/"+rec.ID+"/download-url", admin, nil)
	require.Equal(t, 200, r.Status, string(r.Raw))
	url := s.URL() + r.Body["url"].(string)
	r = s.Do(t, "GET", "/v1/recordings/"+rec.ID+"/download-url", bobTok, nil)
	require.Equal(t, 403, r.Status, "a user token cannot sign: %s", r.Raw)
	status, body := download(t, url)
	require.Equal(t, 200, status, string(body))
	require.Equal(t, rec.SizeBytes, int64(len(body)))
	status, _ = download(t, strings.Replace(url, "signature=", "signature=0", 1))
	require.Equal(t, 403, status, "altered signature")
	status, _ = download(t, strings.Replace(url, "expires=", "expires=1", 1))
	require.Equal(t, 403, status, "altered expiry")

	a, err := recording.Decode(body)
	require.NoError(t, err)
	require.Len(t, a.Channels, 2)
	ms := func(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
	p := rec.Paused[0]
	margin := 300 * time.Millisecond
	for _, span := range [][2]time.Duration{{margin, ms(p.StartMS) - margin}, {ms(p.EndMS) + margin, ms(rec.DurationMS) - margin}} {
		f0, _ := toneOf(a, 0, span[0], span[1])
		f1, _ := toneOf(a, 1, span[0], span[1])
		_, r0 := toneOf(a, 0, span[0], span[1])
		_, r1 := toneOf(a, 1, span[0], span[1])
		t.Logf("span %v: ch1 %.0f Hz rms %.4f, ch2 %.0f Hz rms %.4f", span, f0, r0, f1, r1)
		require.InDelta(t, 440, f0, 10, "channel 1 (the caller) in %v", span)
		require.InDelta(t, 1000, f1, 10, "channel 2 (the callee) in %v", span)
	}
	for ch := range 2 {
		_, rms := toneOf(a, ch, ms(p.StartMS)+50*time.Millisecond, ms(p.EndMS)-50*time.Millisecond)
		require.Zero(t, rms, "channel %d is silent while paused", ch+1)
	}

	r = s.Do(t, "GET", "/v1/recordings/"+rec.ID+"/download-url?expires_in=1", admin, nil)
	require.Equal(t, 200, r.Status, string(r.Raw))
	short := s.URL() + r.Body["url"].(string)
	harness.CheckFor(t, 5*time.Second, func() error {
		if st, _ := download(t, short); st != 403 {
			return fmt.Errorf("expired URL answered %d", st)
		}
		return nil
	})
}

// TestRecordingPolicy: "never" refuses call.record; "always" records
// from the answer, with a beep, and cannot be stopped (only paused).
func TestRecordingPolicy(t *testing.T) {
	s := harness.Start(t, nil)
	r := s.Do(t, "GET", "/v1/recording_policy", admin, nil)
	require.Equal(t, 200, r.Status, string(r.Raw))
	require.Equal(t, "on_demand", r.Body["mode"])
	require.Nil(t, r.Body["updated_at"])
	r = s.Do(t, "PUT", "/v1/recording_policy", admin, map[string]any{"mode": "never"})
	require.Equal(t, 200, r.Status, string(r.Raw))

	alice := s.Phone(t, s.Alice, 440, audio.Opus) // a client without the recording feature
	bob := recPhone(t, s, s.Bob, 1000, audio.Opus)
	out, in := harness.Connected(t, alice, bob, "102")
	require.NoError(t, out.Record(protocol.RecordStart, "n1"))
	e := harness.Wait(t, out, protocol.TypeError).(*protocol.Error)
	require.Equal(t, protocol.CodeRecordingNotAllowed, e.Code, e.Message)
	r = s.Do(t, "POST", "/v1/calls/"+out.ID+"/recording", admin, map[string]any{"action": "start"})
	require.Equal(t, 403, r.Status, string(r.Raw))
	require.Equal(t, "recording_not_allowed", r.Body["code"])
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, in, protocol.EndHangup)

	// An announcement (a WAV file in <data_dir>/prompts) plays to both
	// parties as the recording starts, then the call's audio again.
	prompt := make([]int16, 2*16000)
	audio.NewTone(700, 16000, 0.3).Read(prompt)
	require.NoError(t, os.MkdirAll(server.PromptDir(s.Config.DataDir), 0o700))
	require.NoError(t, audio.WriteWAV(filepath.Join(server.PromptDir(s.Config.DataDir), "notice.wav"), prompt, 16000))
	r = s.Do(t, "PUT", "/v1/recording_policy", admin, map[string]any{"announcement": "../notice.wav"})
	require.Equal(t, 422, r.Status, string(r.Raw))
	require.Equal(t, "announcement", r.Body["details"].(map[string]any)["field"])
	r = s.Do(t, "PUT", "/v1/recording_policy", admin, map[string]any{"mode": "always", "beep": true,
		"retention_days": 30, "announcement": "notice.wav"})
	require.Equal(t, 200, r.Status, string(r.Raw))
	out, in = harness.Connected(t, alice, bob, "102")
	waitRecording(t, in, protocol.RecordingActive)
	harness.HearsTone(t, in, 700)
	harness.HearsTone(t, out, 700)
	harness.HearsTone(t, in, 440)
	require.NoError(t, out.Record(protocol.RecordStop, "a1"))
	e = harness.Wait(t, out, protocol.TypeError).(*protocol.Error)
	require.Equal(t, protocol.CodeRecordingNotAllowed, e.Code, e.Message)
	harness.HearsFor(t, in, time.Second)
	require.NoError(t, in.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	recs := finishedRecordings(t, func(p string) harness.Response { return s.Do(t, "GET", p, admin, nil) }, out.ID, 1)
	require.Greater(t, recs[0].DurationMS, int64(500))
	noRecordingNotice(t, out) // alice never asked for recording frames nor sent call.record
}

// TestRecordingSurvivesKill kills the server (SIGKILL) while a call is
// recorded: the file on disk is readable as it is, holds audio up to the
// last second or two before the kill, and the restarted server finishes
// the recording's row and header.
func TestRecordingSurvivesKill(t *testing.T) {
	bin := harness.BuildBinary(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	p := harness.StartProcessIn(t, bin, dataDir, "")
	alice, err := processPhone(t, p, "101", 440)
	require.NoError(t, err)
	bob, err := processPhone(t, p, "102", 1000)
	require.NoError(t, err)
	out, in := harness.Connected(t, alice, bob, "102")
	harness.HearsTone(t, in, 440)
	harness.HearsTone(t, out, 1000)
	require.NoError(t, out.Record(protocol.RecordStart, "k1"))
	started := waitRecording(t, out, protocol.RecordingActive)
	recordedFrom := time.Now()
	harness.HearsFor(t, in, 4*time.Second)
	killed := time.Now()
	p.Kill(t)
	recorded := killed.Sub(recordedFrom)

	files, err := filepath.Glob(filepath.Join(server.RecordingDir(dataDir), "*", "*", started.RecordingID+".wav"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	b, err := os.ReadFile(files[0])
	require.NoError(t, err)
	a, err := recording.Decode(b)
	require.NoError(t, err, "the file reads as it was left")
	got := time.Duration(a.Frames()) * time.Second / time.Duration(a.Rate)
	// A reader that trusts the header (rewritten every second) sees a
	// little less than one that reads to the end of the file.
	counted := time.Duration(binary.LittleEndian.Uint32(b[40:44])/4) * time.Second / time.Duration(a.Rate)
	t.Logf("recorded %v before the kill; the file holds %v, its header counts %v", recorded, got, counted)
	require.Greater(t, got, recorded-2*time.Second)
	require.Greater(t, counted, recorded-2500*time.Millisecond)
	f0, _ := toneOf(a, 0, 500*time.Millisecond, got-500*time.Millisecond)
	f1, _ := toneOf(a, 1, 500*time.Millisecond, got-500*time.Millisecond)
	require.InDelta(t, 440, f0, 10)
	require.InDelta(t, 1000, f1, 10)

	p2 := harness.StartProcessIn(t, bin, dataDir, "")
	get := func(path string) harness.Response { return rest.Do(t, "GET", p2.URL()+path, admin, nil) }
	recs := finishedRecordings(t, get, out.ID, 1)
	require.InDelta(t, got.Milliseconds(), recs[0].DurationMS, 100)
}

// TestRecordingDeskPhone records a call from a browser (1000 Hz, Opus)
// to a SIP desk phone (baresip, 440 Hz, PCMU), started over REST by the
// admin: channel 1 carries the browser caller, channel 2 the desk phone.
func TestRecordingDeskPhone(t *testing.T) {
	s := harness.Start(t, nil)
	desk, out := bobCallsDesk(t, s)
	harness.HearsTone(t, out, 440)
	r := s.Do(t, "POST", "/v1/calls/"+out.ID+"/recording", admin, map[string]any{"action": "start"})
	require.Equal(t, 200, r.Status, string(r.Raw))
	require.Equal(t, "recording", r.Body["recording"].(map[string]any)["status"])
	harness.HearsFor(t, out, 3*time.Second)
	require.NoError(t, out.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)
	hungUp(t, desk)

	recs := finishedRecordings(t, func(p string) harness.Response { return s.Do(t, "GET", p, admin, nil) }, out.ID, 1)
	r = s.Do(t, "GET", "/v1/recordings/"+recs[0].ID+"/download-url", admin, nil)
	require.Equal(t, 200, r.Status, string(r.Raw))
	status, body := download(t, s.URL()+r.Body["url"].(string))
	require.Equal(t, 200, status)
	a, err := recording.Decode(body)
	require.NoError(t, err)
	end := time.Duration(recs[0].DurationMS)*time.Millisecond - 300*time.Millisecond
	f0, _ := toneOf(a, 0, 300*time.Millisecond, end)
	f1, _ := toneOf(a, 1, 300*time.Millisecond, end)
	t.Logf("desk phone call: %d ms; channel 1 %.0f Hz, channel 2 %.0f Hz", recs[0].DurationMS, f0, f1)
	require.InDelta(t, 1000, f0, 10, "channel 1: the browser caller")
	require.InDelta(t, 440, f1, 10, "channel 2: the desk phone")
	noRecordingNotice(t, out) // a browser without the recording feature
}

// TestRecordingAcrossTransfer: a recording goes on through a blind
// transfer: channel 1 keeps the caller, channel 2 carries the callee and
// then the transfer's target.
func TestRecordingAcrossTransfer(t *testing.T) {
	s := harness.Start(t, nil)
	alice := recPhone(t, s, s.Alice, 440, audio.Opus)
	bob := s.Phone(t, s.Bob, 1000, audio.Opus)
	carol := s.Phone(t, s.Carol, 700, audio.PCMU)
	out, in := harness.Connected(t, alice, bob, "102")
	harness.HearsTone(t, out, 1000)
	require.NoError(t, out.Record(protocol.RecordStart, "t1"))
	waitRecording(t, out, protocol.RecordingActive)
	harness.HearsFor(t, out, 2*time.Second)
	require.NoError(t, in.Transfer("103"))
	harness.WaitEnded(t, in, protocol.EndTransferred)
	toCarol := harness.NextIncoming(t, carol)
	answer(t, toCarol)
	harness.Wait(t, toCarol, protocol.TypeCallAnswered)
	harness.HearsTone(t, out, 700)
	harness.HearsFor(t, out, 2*time.Second)
	require.NoError(t, out.Record(protocol.RecordStop, "t2"))
	waitRecording(t, out, protocol.RecordingStopped)
	require.NoError(t, toCarol.Hangup())
	harness.WaitEnded(t, out, protocol.EndHangup)

	recs := finishedRecordings(t, func(p string) harness.Response { return s.Do(t, "GET", p, admin, nil) }, out.ID, 1)
	r := s.Do(t, "GET", "/v1/recordings/"+recs[0].ID+"/download-url", admin, nil)
	require.Equal(t, 200, r.Status, string(r.Raw))
	status, body := download(t, s.URL()+r.Body["url"].(string))
	require.Equal(t, 200, status)
	a, err := recording.Decode(body)
	require.NoError(t, err)
	total := time.Duration(recs[0].DurationMS) * time.Millisecond
	first := [2]time.Duration{300 * time.Millisecond, 1500 * time.Millisecond}
	last := [2]time.Duration{total - 1500*time.Millisecond, total - 300*time.Millisecond}
	for _, c := range []struct {
		ch   int
		span [2]time.Duration
		want float64
	}{{0, first, 440}, {1, first, 1000}, {0, last, 440}, {1, last, 700}} {
		f, _ := toneOf(a, c.ch, c.span[0], c.span[1])
		require.InDelta(t, c.want, f, 10, "channel %d in %v", c.ch+1, c.span)
	}
}
