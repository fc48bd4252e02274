package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-voice/switchboard/internal/call"
	"github.com/switchboard-voice/switchboard/internal/httplimit"
	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// RecordingFiles is the recording storage and URL signer as the API uses
// them (internal/recording behind the server).
type RecordingFiles interface {
	Open(key string) (io.ReadSeekCloser, int64, error)
	// SignedURL is the path and query that download the recording until exp.
	SignedURL(id ident.RecordingID, exp time.Time) string
	// ValidURL checks a download's expires and signature.
	ValidURL(id ident.RecordingID, expires, signature string, now time.Time) bool
}

// Download URL lifetimes.
const (
	defaultURLTTL = 15 * time.Minute
	maxURLTTL     = 7 * 24 * time.Hour
)

// recordingRoutes adds the recording policy, per-call recording control,
// recording metadata and signed downloads.
func (a *API) recordingRoutes(handle func(string, map[string]handler), mux *http.ServeMux) {
	handle("/v1/recording_policy", map[string]handler{"GET": a.admin(a.getRecordingPolicy),
		"PUT": a.admin(a.putRecordingPolicy), "PATCH": a.admin(a.putRecordingPolicy)})
	handle("/v1/calls/{id}/recording", map[string]handler{"POST": a.recordCall})
	handle("/v1/recordings/{id}", map[string]handler{"GET": a.admin(a.getRecording)})
	handle("/v1/recordings/{id}/download-url", map[string]handler{"GET": a.admin(a.recordingURL),
		"POST": a.admin(a.recordingURL)})
	mux.HandleFunc("/v1/recordings/{id}/file", a.serveRecordingFile)
}

type recordingPolicyJSON struct {
	Object        string  `json:"object"` // "recording_policy"
	AccountID     string  `json:"account_id"`
	Mode          string  `json:"mode"`
	Beep          bool    `json:"beep"`
	Announcement  string  `json:"announcement"`
	RetentionDays int     `json:"retention_days"`
	UpdatedAt     *string `json:"updated_at"` // null: the default policy
}

func policyView(p *store.RecordingPolicy) recordingPolicyJSON {
	v := recordingPolicyJSON{Object: "recording_policy", AccountID: string(p.AccountID), Mode: string(p.Mode),
		Beep: p.Beep, Announcement: p.Announcement, RetentionDays: p.RetentionDays}
	if !p.UpdatedAt.IsZero() {
		s := rfc3339(p.UpdatedAt)
		v.UpdatedAt = &s
	}
	return v
}

// recordingPolicyInput is PUT /v1/recording_policy: given fields replace
// the stored ones.
type recordingPolicyInput struct {
	Mode          *string `json:"mode"`
	Beep          *bool   `json:"beep"`
	Announcement  *string `json:"announcement"`
	RetentionDays *int    `json:"retention_days"`
}

func (in *recordingPolicyInput) apply(p *store.RecordingPolicy) error {
	if in.Mode != nil {
		m := store.RecordingMode(*in.Mode)
		if !m.Valid() {
			return unprocessable("mode", "invalid_mode", "mode must be never, on_demand or always")
		}
		p.Mode = m
	}
	if in.Beep != nil {
		p.Beep = *in.Beep
	}
	if in.Announcement != nil {
		s := *in.Announcement
		if len(s) > store.MaxAnnouncementLength || !utf8.ValidString(s) || strings.ContainsAny(s, "/\\\x00\r\n") ||
			strings.HasPrefix(s, ".") {
			return unprocessable("announcement", "invalid_announcement",
				"announcement must be a file name in the prompts directory (at most %d characters, no path)", store.MaxAnnouncementLength)
		}
		p.Announcement = s
	}
	if in.RetentionDays != nil {
		if d := *in.RetentionDays; d < 1 || d > store.MaxRetentionDays {
			return unprocessable("retention_days", "invalid_retention", "retention_days must be 1 to %d", store.MaxRetentionDays)
		}
		p.RetentionDays = *in.RetentionDays
	}
	return nil
}

func (a *API) recordingStore() (store.Recordings, error) {
	rs, ok := a.Store.(store.Recordings)
	if !ok || a.RecordingFiles == nil {
		return nil, apiErr(http.StatusNotImplemented, "not_implemented", "this server keeps no recordings")
	}
	return rs, nil
}

func (a *API) getRecordingPolicy(r *http.Request) (int, any, error) {
	rs, err := a.recordingStore()
	if err != nil {
		return 0, nil, err
	}
	acct, err := a.requestAccount(r)
	if err != nil {
		return 0, nil, err
	}
	p, err := rs.GetRecordingPolicy(r.Context(), acct)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, policyView(p), nil
}

func (a *API) putRecordingPolicy(r *http.Request) (int, any, error) {
	var in recordingPolicyInput
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	rs, err := a.recordingStore()
	if err != nil {
		return 0, nil, err
	}
	acct, err := a.requestAccount(r)
	if err != nil {
		return 0, nil, err
	}
	p, err := rs.GetRecordingPolicy(r.Context(), acct)
	if err != nil {
		return 0, nil, err
	}
	if err := in.apply(p); err != nil {
		return 0, nil, err
	}
	if err := rs.PutRecordingPolicy(r.Context(), p); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, policyView(p), nil
}

// recordBody is POST /v1/calls/{id}/recording.
type recordBody struct {
	Action *string `json:"action"`
}

// recordCall serves POST /v1/calls/{id}/recording: the admin key, or a
// user token of a user on the call.
func (a *API) recordCall(r *http.Request) (int, any, error) {
	var user ident.UserID
	if key := bearer(r); key == "" || !a.AdminKey.Check(key) {
		id, err := a.userIdentity(r)
		if err != nil {
			return 0, nil, err
		}
		user = id.UserID
	} else {
		httplimit.MarkAuthenticated(r.Context())
		httplimit.NoteCaller(r.Context(), "admin", "")
	}
	var in recordBody
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	act := call.RecordAction("")
	if in.Action != nil {
		act = call.RecordAction(*in.Action)
	}
	switch act {
	case call.RecordStart, call.RecordPause, call.RecordResume, call.RecordStop:
	default:
		return 0, nil, unprocessable("action", "invalid_action", "action must be start, pause, resume or stop")
	}
	id := ident.CallID(r.PathValue("id"))
	if err := a.supervise(r, id, call.SuperviseRecord{Action: act, User: user}); err != nil {
		return 0, nil, recordErr(err)
	}
	out := map[string]any{"object": "call_recording", "call_id": id, "action": act}
	if rs, ok := a.Store.(store.Recordings); ok {
		if list, err := rs.ListCallRecordings(r.Context(), id); err == nil && len(list) > 0 {
			out["recording"] = recordingView(&list[len(list)-1])
		}
	}
	return http.StatusOK, out, nil
}

// recordErr maps the call core's recording refusals.
func recordErr(err error) error {
	switch {
	case errors.Is(err, call.ErrRecordingNotAllowed):
		return apiErr(http.StatusForbidden, "recording_not_allowed", "%s", err.Error())
	case errors.Is(err, call.ErrNoRecorder):
		return apiErr(http.StatusNotImplemented, "not_implemented", "%s", err.Error())
	}
	return err
}

type recordingJSON struct {
	Object     string             `json:"object"` // "recording"
	ID         string             `json:"id"`
	CallID     string             `json:"call_id"`
	Status     string             `json:"status"`
	StartedAt  string             `json:"started_at"`
	EndedAt    *string            `json:"ended_at"`
	DurationMS int64              `json:"duration_ms"`
	SizeBytes  int64              `json:"size_bytes"`
	Format     string             `json:"format"` // "wav"
	SampleRate int                `json:"sample_rate"`
	Channels   int                `json:"channels"`
	Paused     []store.PausedSpan `json:"paused_spans"`
}

func recordingView(rec *store.Recording) recordingJSON {
	v := recordingJSON{Object: "recording", ID: string(rec.ID), CallID: string(rec.CallID), Status: rec.Status,
		StartedAt: rfc3339(rec.StartedAt), DurationMS: rec.DurationMS, SizeBytes: rec.SizeBytes, Format: "wav",
		SampleRate: rec.SampleRate, Channels: rec.Channels, Paused: rec.Paused}
	if v.Paused == nil {
		v.Paused = []store.PausedSpan{}
	}
	if rec.EndedAt != nil {
		s := rfc3339(*rec.EndedAt)
		v.EndedAt = &s
	}
	return v
}

// callRecordings lists a call's recordings for its record (nil when the
// server keeps none).
func (a *API) callRecordings(ctx context.Context, id ident.CallID) []recordingJSON {
	rs, ok := a.Store.(store.Recordings)
	if !ok || a.RecordingFiles == nil {
		return nil
	}
	list, err := rs.ListCallRecordings(ctx, id)
	if err != nil {
		a.Log.Warn("list call recordings", "call_id", id, "err", err)
	}
	out := make([]recordingJSON, 0, len(list))
	for i := range list {
		out = append(out, recordingView(&list[i]))
	}
	return out
}

func (a *API) pathRecording(r *http.Request) (*store.Recording, error) {
	rs, err := a.recordingStore()
	if err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	if !strings.HasPrefix(id, "rec_") || len(id) > 64 {
		return nil, apiErr(http.StatusNotFound, "recording_not_found", "no recording %q", id)
	}
	rec, err := rs.GetRecording(r.Context(), ident.RecordingID(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, apiErr(http.StatusNotFound, "recording_not_found", "no recording %q", id)
	}
	return rec, err
}

func (a *API) getRecording(r *http.Request) (int, any, error) {
	rec, err := a.pathRecording(r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, recordingView(rec), nil
}

// recordingURL serves GET /v1/recordings/{id}/download-url?expires_in=S:
// a URL that downloads the file without credentials until it expires.
func (a *API) recordingURL(r *http.Request) (int, any, error) {
	if r.Method == http.MethodPost {
		if err := emptyBody(r); err != nil {
			return 0, nil, err
		}
	}
	ttl := defaultURLTTL
	if s := r.URL.Query().Get("expires_in"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || time.Duration(n)*time.Second > maxURLTTL {
			return 0, nil, badField("expires_in", "invalid_expires_in", "expires_in must be 1 to %d seconds", int(maxURLTTL.Seconds()))
		}
		ttl = time.Duration(n) * time.Second
	}
	rec, err := a.pathRecording(r)
	if err != nil {
		return 0, nil, err
	}
	exp := a.now().Add(ttl).Truncate(time.Second)
	return http.StatusOK, map[string]any{"object": "recording_url", "recording_id": rec.ID,
		"url": a.RecordingFiles.SignedURL(rec.ID, exp), "expires_at": rfc3339(exp)}, nil
}

// serveRecordingFile serves the WAV file for a valid signed URL: no
// credentials, 403 for a wrong or expired signature.
func (a *API) serveRecordingFile(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		a.writeErr(w, r, apiErr(http.StatusMethodNotAllowed, "method_not_allowed", "%s is not allowed here", r.Method))
		return
	}
	if a.RecordingFiles == nil {
		a.writeErr(w, r, apiErr(http.StatusNotImplemented, "not_implemented", "this server keeps no recordings"))
		return
	}
	id := ident.RecordingID(r.PathValue("id"))
	q := r.URL.Query()
	if !a.RecordingFiles.ValidURL(id, q.Get("expires"), q.Get("signature"), a.now()) {
		a.writeErr(w, r, apiErr(http.StatusForbidden, "invalid_signature", "the download URL is invalid or has expired"))
		return
	}
	httplimit.MarkAuthenticated(r.Context())
	rec, err := a.pathRecording(r)
	if err != nil {
		a.writeErr(w, r, err)
		return
	}
	f, _, err := a.RecordingFiles.Open(rec.StorageKey)
	if err != nil {
		a.writeErr(w, r, apiErr(http.StatusNotFound, "recording_not_found", "the recording's file is gone"))
		return
	}
	defer f.Close()
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Content-Disposition", `attachment; filename="`+string(rec.ID)+`.wav"`)
	http.ServeContent(w, r, "", rec.StartedAt, f)
}
