package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWebhooksValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Webhooks)
		err    string
	}{
		{"defaults", func(*Webhooks) {}, ""},
		{"zero takes defaults", func(w *Webhooks) { *w = Webhooks{} }, ""},
		{"negative poll", func(w *Webhooks) { w.Poll = -time.Second }, "webhooks.poll"},
		{"negative retention", func(w *Webhooks) { w.EventRetention = -time.Hour }, "webhooks.event_retention"},
		{"negative streams", func(w *Webhooks) { w.MaxStreams = -1 }, "webhooks.max_streams"},
		{"base over max", func(w *Webhooks) { w.BackoffBase = 2 * time.Hour }, "webhooks.backoff_base"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(&c.Webhooks)
			err := c.Validate()
			if tc.err == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tc.err)
			}
		})
	}
}
