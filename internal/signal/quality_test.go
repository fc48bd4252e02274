package signal

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/auth"
	"github.com/switchboard-voice/switchboard/internal/protocol"
)

// call.quality reaches only a socket whose client asked for it, and is
// never kept for a socket that is down.
func TestQualityOnlyForOptedIn(t *testing.T) {
	h := &Hub{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	q := &protocol.CallQuality{CallID: "call_1", MOS: 4.3, Loss: 0.2, Jitter: 3}
	for _, tc := range []struct {
		name     string
		attached bool
		optedIn  bool
		want     int
	}{
		{"opted in", true, true, 1},
		{"older client", true, false, 0},
		{"socket down", false, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSession(h, auth.Identity{UserID: "user_a", AccountID: "acct_a"})
			c := &conn{hub: h, ctx: context.Background(), out: make(chan []byte, 4), quality: tc.optedIn}
			if tc.attached {
				s.conn = c
			}
			s.Send(q)
			require.Len(t, c.out, tc.want)
			require.Empty(t, s.missed)
			if tc.want == 1 {
				require.JSONEq(t, `{"type":"call.quality","call_id":"call_1","mos":4.3,"loss":0.2,"jitter":3,"rtt":null}`, string(<-c.out))
			}
		})
	}
}

func TestAuthenticateFeatures(t *testing.T) {
	for _, tc := range []struct {
		frame string
		want  bool
	}{
		{`{"type":"authenticate","token":"t"}`, false},
		{`{"type":"authenticate","token":"t","features":[]}`, false},
		{`{"type":"authenticate","token":"t","features":["video","quality"]}`, true},
		{`{"type":"authenticate","token":"t","features":["telepathy"]}`, false},
	} {
		msg, err := protocol.DecodeClient([]byte(tc.frame))
		require.NoError(t, err, tc.frame)
		require.Equal(t, tc.want, msg.(*protocol.Authenticate).HasFeature(protocol.FeatureQuality), tc.frame)
	}
}
