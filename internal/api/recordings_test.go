package api

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-voice/switchboard/internal/store"
)

func TestRecordingPolicyInput(t *testing.T) {
	str := func(s string) *string { return &s }
	num := func(n int) *int { return &n }
	for _, tt := range []struct {
		name  string
		in    recordingPolicyInput
		field string // "" when valid
	}{
		{"empty keeps all", recordingPolicyInput{}, ""},
		{"always", recordingPolicyInput{Mode: str("always")}, ""},
		{"unknown mode", recordingPolicyInput{Mode: str("sometimes")}, "mode"},
		{"empty mode", recordingPolicyInput{Mode: str("")}, "mode"},
		{"retention 0", recordingPolicyInput{RetentionDays: num(0)}, "retention_days"},
		{"retention too long", recordingPolicyInput{RetentionDays: num(store.MaxRetentionDays + 1)}, "retention_days"},
		{"retention max", recordingPolicyInput{RetentionDays: num(store.MaxRetentionDays)}, ""},
		{"announcement file", recordingPolicyInput{Announcement: str("notice.wav")}, ""},
		{"announcement cleared", recordingPolicyInput{Announcement: str("")}, ""},
		{"announcement path", recordingPolicyInput{Announcement: str("../x.wav")}, "announcement"},
		{"announcement dir", recordingPolicyInput{Announcement: str("a/b.wav")}, "announcement"},
		{"announcement hidden", recordingPolicyInput{Announcement: str(".x")}, "announcement"},
		{"announcement newline", recordingPolicyInput{Announcement: str("a\nb")}, "announcement"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := store.DefaultRecordingPolicy("acct_a")
			err := tt.in.apply(p)
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			var ae *Error
			require.True(t, errors.As(err, &ae), "%v", err)
			require.Equal(t, 422, ae.Status)
			require.Equal(t, tt.field, ae.Details["field"])
		})
	}
}
