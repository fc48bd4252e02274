package store

import (
	"context"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
)

// RecordingMode is an account's recording policy mode.
type RecordingMode string

// Recording modes (their strings are on the wire and in the store).
const (
	RecordingModeUnknown RecordingMode = ""
	RecordingNever       RecordingMode = "never"
	RecordingOnDemand    RecordingMode = "on_demand"
	RecordingAlways      RecordingMode = "always"
)

// Recording policy limits.
const (
	DefaultRetentionDays  = 90
	MaxRetentionDays      = 3650
	MaxAnnouncementLength = 256
)

// String returns the mode's wire value.
func (m RecordingMode) String() string { return string(m) }

// Valid reports whether m is one of the known modes.
func (m RecordingMode) Valid() bool {
	return m == RecordingNever || m == RecordingOnDemand || m == RecordingAlways
}

// RecordingPolicy is an account's recording policy.
type RecordingPolicy struct {
	AccountID ident.AccountID
	Mode      RecordingMode
	// Beep: the parties hear a short beep when a recording starts.
	Beep bool
	// Announcement names a WAV prompt (in the data dir's prompts/) played
	// in place of the beep; empty: none.
	Announcement  string
	RetentionDays int
	// UpdatedAt is zero while the account uses the default policy.
	UpdatedAt time.Time
}

// DefaultRecordingPolicy is the policy of an account that never set one:
// recording on demand, with a beep, kept 90 days.
func DefaultRecordingPolicy(account ident.AccountID) *RecordingPolicy {
	return &RecordingPolicy{AccountID: account, Mode: RecordingOnDemand, Beep: true, RetentionDays: DefaultRetentionDays}
}

// Recording statuses.
const (
	RecordingActive   = "recording"
	RecordingPaused   = "paused"
	RecordingFinished = "completed"
)

// PausedSpan is a stretch of a recording written as silence, in
// milliseconds from the recording's start.
type PausedSpan struct {
	StartMS int64 `json:"start_ms"`
	EndMS   int64 `json:"end_ms"`
}

// Recording is one recording of a call: a file in the recording storage
// under StorageKey.
type Recording struct {
	ID         ident.RecordingID
	CallID     ident.CallID
	AccountID  ident.AccountID
	StorageKey string
	Status     string
	SampleRate int
	Channels   int
	StartedAt  time.Time
	EndedAt    *time.Time
	DurationMS int64
	SizeBytes  int64
	Paused     []PausedSpan
}

// Recordings stores recording policies and recordings.
type Recordings interface {
	// GetRecordingPolicy returns DefaultRecordingPolicy(account) when none
	// is stored.
	GetRecordingPolicy(ctx context.Context, account ident.AccountID) (*RecordingPolicy, error)
	PutRecordingPolicy(ctx context.Context, p *RecordingPolicy) error
	CreateRecording(ctx context.Context, r *Recording) error
	// UpdateRecording saves status, ended_at, duration, size and paused
	// spans of r.
	UpdateRecording(ctx context.Context, r *Recording) error
	GetRecording(ctx context.Context, id ident.RecordingID) (*Recording, error)
	// ListCallRecordings returns a call's recordings, oldest first.
	ListCallRecordings(ctx context.Context, call ident.CallID) ([]Recording, error)
	// ExpiredRecordings returns up to limit recordings of any account that
	// started before now minus the account's retention, of calls whose id
	// starts with callPrefix ("": any).
	ExpiredRecordings(ctx context.Context, now time.Time, limit int, callPrefix string) ([]Recording, error)
	// OpenRecordings returns the recordings not finished (left by a
	// crash: their files hold what was written up to it), of calls whose
	// id starts with callPrefix ("": any).
	OpenRecordings(ctx context.Context, callPrefix string) ([]Recording, error)
	DeleteRecording(ctx context.Context, id ident.RecordingID) error
}
