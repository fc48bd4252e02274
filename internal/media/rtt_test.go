package media

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

func TestReportRTT(t *testing.T) {
	sent := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	lsr := compactNTP(sent)
	ms := func(d time.Duration) uint32 { return uint32(d * 65536 / time.Second) }
	for _, tt := range []struct {
		name    string
		pkts    []rtcp.Packet
		arrival time.Time
		want    float64 // ms; <0: none
	}{
		{"receiver report: 120 ms out, 30 ms held", []rtcp.Packet{&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{
			{LastSenderReport: lsr, Delay: ms(30 * time.Millisecond)}}}}, sent.Add(150 * time.Millisecond), 120},
		{"sender report blocks count too", []rtcp.Packet{&rtcp.SenderReport{Reports: []rtcp.ReceptionReport{
			{LastSenderReport: lsr, Delay: 0}}}}, sent.Add(40 * time.Millisecond), 40},
		{"no sender report of ours yet", []rtcp.Packet{&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{
			{LastSenderReport: 0}}}}, sent.Add(time.Second), -1},
		{"a report from before the sender report is refused", []rtcp.Packet{&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{
			{LastSenderReport: lsr, Delay: ms(time.Second)}}}}, sent.Add(100 * time.Millisecond), -1},
		{"other packets", []rtcp.Packet{&rtcp.PictureLossIndication{}}, sent, -1},
		{"loopback: under the unit", []rtcp.Packet{&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{
			{LastSenderReport: lsr}}}}, sent, 0.01},
		{"across the 16-bit seconds wrap", []rtcp.Packet{&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{
			{LastSenderReport: compactNTP(sent.Add(65535 * time.Second))}}}}, sent.Add(65535*time.Second + 200*time.Millisecond), 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := reportRTT(tt.pkts, tt.arrival)
			if tt.want < 0 {
				require.False(t, ok)
				return
			}
			require.True(t, ok)
			require.InDelta(t, tt.want, got, 0.1)
		})
	}
}

// Two endpoints on loopback: the receiver's reports on the sender's
// reports give the sender a round-trip time within a few seconds.
func TestWebRTCMeasuresRTT(t *testing.T) {
	e := newEngine(t)
	a, b := pair(t, e)
	b.SetSink(func(Packet) {})
	f := waitFormatT(t, a)
	payload := make([]byte, 20)
	deadline := time.Now().Add(8 * time.Second)
	for a.Stats().RTTMillis == 0 {
		require.True(t, time.Now().Before(deadline), "no RTT after 8 s")
		_ = a.WriteAudio(payload, f.Ticks())
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("RTT %.3f ms", a.Stats().RTTMillis)
	require.Less(t, a.Stats().RTTMillis, 500.0, "loopback: a few ms, more on a busy machine; a unit slip is far more")
	st := a.Stats()
	require.NotZero(t, st.Remote.Reports, "the receiver's report on our stream")
	require.Less(t, st.Remote.LossPct, 1.0)
}

func waitFormatT(t *testing.T, ep *WebRTCEndpoint) Format {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if f, ok := ep.SendFormat(); ok {
			return f
		}
	}
	t.Fatal("no send format")
	return Format{}
}

// Gaps in the received sequence are counted as runs of lost packets,
// across the 16-bit wrap; a late packet fills no run.
func TestReceiveStatsLossRuns(t *testing.T) {
	for _, tt := range []struct {
		name       string
		seqs       []uint16
		lost, runs int64
	}{
		{"none", []uint16{1, 2, 3, 4}, 0, 0},
		{"two singles", []uint16{1, 3, 4, 6}, 2, 2},
		{"one burst of three", []uint16{1, 5, 6}, 3, 1},
		{"across the wrap", []uint16{65534, 65535, 1, 2}, 1, 1},
		{"late packet", []uint16{1, 3, 2, 4}, 0, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r receiveStats
			at := time.Now()
			for i, s := range tt.seqs {
				r.add(&rtp.Packet{Header: rtp.Header{SequenceNumber: s, Timestamp: uint32(i) * 160}}, 8000, at)
			}
			require.Equal(t, tt.lost, r.lost())
			require.Equal(t, uint64(tt.runs), r.lossRuns)
		})
	}
}

func TestRemoteReport(t *testing.T) {
	rr := []rtcp.Packet{&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{{FractionLost: 64, Jitter: 480}}}}
	got, ok := remoteReport(rr, 48000)
	require.True(t, ok)
	require.InDelta(t, 25.0, got.LossPct, 1e-9, "64/256")
	require.InDelta(t, 10.0, got.JitterMillis, 1e-9, "480 ticks of 48 kHz")
	_, ok = remoteReport([]rtcp.Packet{&rtcp.ReceiverReport{}}, 48000)
	require.False(t, ok, "a report with no block")
	_, ok = remoteReport(rr, 0)
	require.False(t, ok, "no clock yet")
}
