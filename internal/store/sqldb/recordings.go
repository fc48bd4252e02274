package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

const policyCols = "account_id, mode, beep, announcement, retention_days, updated_at"

// GetRecordingPolicy returns the account's recording policy, or the
// default one when none is stored.
func (d *DB) GetRecordingPolicy(ctx context.Context, account ident.AccountID) (*store.RecordingPolicy, error) {
	var p store.RecordingPolicy
	var updated string
	err := d.queryRow(ctx, "SELECT "+policyCols+" FROM recording_policies WHERE account_id = ?", account).
		Scan(&p.AccountID, &p.Mode, &p.Beep, &p.Announcement, &p.RetentionDays, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return store.DefaultRecordingPolicy(account), nil
	}
	if err != nil {
		return nil, fmt.Errorf("get recording policy: %w", err)
	}
	p.UpdatedAt, err = parseTime(updated)
	return &p, err
}

// PutRecordingPolicy stores p, setting its UpdatedAt.
func (d *DB) PutRecordingPolicy(ctx context.Context, p *store.RecordingPolicy) error {
	p.UpdatedAt = now()
	_, err := d.exec(ctx, "INSERT INTO recording_policies ("+policyCols+`) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (account_id) DO UPDATE SET mode = excluded.mode, beep = excluded.beep,
		announcement = excluded.announcement, retention_days = excluded.retention_days,
		updated_at = excluded.updated_at`,
		p.AccountID, string(p.Mode), p.Beep, p.Announcement, p.RetentionDays, formatTime(p.UpdatedAt))
	if d.isForeignKey(err) {
		return fmt.Errorf("account %q: %w", p.AccountID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("put recording policy: %w", err)
	}
	return nil
}

const recordingCols = `id, call_id, account_id, storage_key, status, sample_rate, channels, started_at,
	ended_at, duration_ms, size_bytes, paused_spans`

// CreateRecording inserts r, filling in its ID when unset.
func (d *DB) CreateRecording(ctx context.Context, r *store.Recording) error {
	if r.ID == "" {
		r.ID = ident.NewRecordingID()
	}
	if r.StartedAt.IsZero() {
		r.StartedAt = now()
	}
	if r.Status == "" {
		r.Status = store.RecordingActive
	}
	spans, err := spansJSON(r.Paused)
	if err != nil {
		return err
	}
	_, err = d.exec(ctx, `INSERT INTO recordings (id, call_id, account_id, storage_key, status, sample_rate,
		channels, started_at, started_ms, ended_at, duration_ms, size_bytes, paused_spans)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.CallID, r.AccountID, r.StorageKey, r.Status, r.SampleRate, r.Channels,
		formatTime(r.StartedAt), r.StartedAt.UnixMilli(), nullTime(r.EndedAt), r.DurationMS, r.SizeBytes, spans)
	if d.isUnique(err) {
		return fmt.Errorf("recording id %q is taken: %w", r.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create recording: %w", err)
	}
	return nil
}

// UpdateRecording saves r's status, end, duration, size and paused spans.
func (d *DB) UpdateRecording(ctx context.Context, r *store.Recording) error {
	spans, err := spansJSON(r.Paused)
	if err != nil {
		return err
	}
	res, err := d.exec(ctx, `UPDATE recordings SET status = ?, ended_at = ?, duration_ms = ?, size_bytes = ?,
		paused_spans = ? WHERE id = ?`, r.Status, nullTime(r.EndedAt), r.DurationMS, r.SizeBytes, spans, r.ID)
	if err != nil {
		return fmt.Errorf("update recording: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("recording %q: %w", r.ID, store.ErrNotFound)
	}
	return nil
}

// GetRecording returns the recording with the given id.
func (d *DB) GetRecording(ctx context.Context, id ident.RecordingID) (*store.Recording, error) {
	r, err := scanRecording(d.queryRow(ctx, "SELECT "+recordingCols+" FROM recordings WHERE id = ?", id))
	if err != nil {
		return nil, notFound(err, "recording", id)
	}
	return r, nil
}

// ListCallRecordings returns the call's recordings, oldest first.
func (d *DB) ListCallRecordings(ctx context.Context, call ident.CallID) ([]store.Recording, error) {
	return d.listRecordings(ctx, "SELECT "+recordingCols+" FROM recordings WHERE call_id = ? ORDER BY started_ms, id", call)
}

// ExpiredRecordings returns up to limit recordings older than their
// account's retention (the default retention for accounts without a
// policy), oldest first.
func (d *DB) ExpiredRecordings(ctx context.Context, at time.Time, limit int, callPrefix string) ([]store.Recording, error) {
	where, args := callPrefixWhere("r.", callPrefix)
	q := "SELECT " + prefixed("r.", recordingCols) + ` FROM recordings r
		LEFT JOIN recording_policies p ON p.account_id = r.account_id
		WHERE r.ended_at IS NOT NULL AND r.started_ms < ? - COALESCE(p.retention_days, ?) * 86400000` + where + `
		ORDER BY r.started_ms LIMIT ?`
	return d.listRecordings(ctx, q, append(append([]any{at.UnixMilli(), store.DefaultRetentionDays}, args...), limit)...)
}

// OpenRecordings returns the recordings that never finished.
func (d *DB) OpenRecordings(ctx context.Context, callPrefix string) ([]store.Recording, error) {
	where, args := callPrefixWhere("", callPrefix)
	return d.listRecordings(ctx, "SELECT "+recordingCols+" FROM recordings WHERE ended_at IS NULL"+where+" ORDER BY started_ms", args...)
}

// callPrefixWhere narrows a query to recordings of calls whose id starts
// with prefix (a cluster node's, "call_<node>-"); "" narrows nothing.
func callPrefixWhere(table, prefix string) (string, []any) {
	if prefix == "" {
		return "", nil
	}
	return " AND substr(" + table + "call_id, 1, " + strconv.Itoa(len(prefix)) + ") = ?", []any{prefix}
}

// DeleteRecording removes the recording's row.
func (d *DB) DeleteRecording(ctx context.Context, id ident.RecordingID) error {
	res, err := d.exec(ctx, "DELETE FROM recordings WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("delete recording: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("recording %q: %w", id, store.ErrNotFound)
	}
	return nil
}

func (d *DB) listRecordings(ctx context.Context, q string, args ...any) ([]store.Recording, error) {
	rows, err := d.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list recordings: %w", err)
	}
	defer rows.Close()
	out := []store.Recording{}
	for rows.Next() {
		r, err := scanRecording(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	return out, rows.Err()
}

func scanRecording(row rowScanner) (*store.Recording, error) {
	var r store.Recording
	var started, spans string
	var ended sql.NullString
	if err := row.Scan(&r.ID, &r.CallID, &r.AccountID, &r.StorageKey, &r.Status, &r.SampleRate, &r.Channels,
		&started, &ended, &r.DurationMS, &r.SizeBytes, &spans); err != nil {
		return nil, err
	}
	var err error
	if r.StartedAt, err = parseTime(started); err != nil {
		return nil, err
	}
	if r.EndedAt, err = parseNullTime(ended); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(spans), &r.Paused); err != nil {
		return nil, fmt.Errorf("recording %s: paused spans: %w", r.ID, err)
	}
	return &r, nil
}

func spansJSON(s []store.PausedSpan) (string, error) {
	if s == nil {
		s = []store.PausedSpan{}
	}
	b, err := json.Marshal(s)
	return string(b), err
}

// prefixed puts p before each of the comma-separated columns.
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}
