package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

const callCols = "id, account_id, direction, from_user_id, to_user_id, from_addr, from_name, " +
	"to_addr, answered_by, started_at, answered_at, ended_at, end_reason, legs, transfer, node_id"

// callArgs returns r's column values in callCols order, after the id and
// before node_id (which UpdateCallRecord leaves alone: a call's owner
// never changes).
func callArgs(r *store.CallRecord) ([]any, error) {
	legs, err := json.Marshal(r.Legs)
	if err != nil {
		return nil, fmt.Errorf("encode legs of call %q: %w", r.ID, err)
	}
	return []any{r.AccountID, r.Direction, r.FromUserID, r.ToUserID, r.From, r.FromName,
		r.To, r.AnsweredBy, formatTime(r.StartedAt), nullTime(r.AnsweredAt),
		nullTime(r.EndedAt), r.EndReason, string(legs), r.Transfer}, nil
}

// CreateCallRecord inserts r, filling in its ID and StartedAt when unset.
func (d *DB) CreateCallRecord(ctx context.Context, r *store.CallRecord) error {
	if r.ID == "" {
		r.ID = ident.NewCallID()
	}
	if r.StartedAt.IsZero() {
		r.StartedAt = now()
	}
	args, err := callArgs(r)
	if err != nil {
		return err
	}
	_, err = d.exec(ctx,
		"INSERT INTO call_records ("+callCols+", checkpoint_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		append(append([]any{r.ID}, args...), r.NodeID, formatTime(r.StartedAt))...)
	if d.isUnique(err) {
		return fmt.Errorf("call id %q is taken: %w", r.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create call record %q: %w", r.ID, err)
	}
	return nil
}

// UpdateCallRecord replaces the stored record with r's id.
func (d *DB) UpdateCallRecord(ctx context.Context, r *store.CallRecord) error {
	args, err := callArgs(r)
	if err != nil {
		return err
	}
	return d.execOne(ctx, "call record", r.ID, updateCall, append(args, r.ID)...)
}

// updateCall replaces a record: callArgs, then the id.
const updateCall = `UPDATE call_records SET account_id = ?, direction = ?, from_user_id = ?,
	to_user_id = ?, from_addr = ?, from_name = ?, to_addr = ?, answered_by = ?,
	started_at = ?, answered_at = ?, ended_at = ?, end_reason = ?, legs = ?, transfer = ?
	WHERE id = ?`

// GetCallRecord returns the record with the given id.
func (d *DB) GetCallRecord(ctx context.Context, id ident.CallID) (*store.CallRecord, error) {
	row := d.queryRow(ctx, "SELECT "+callCols+" FROM call_records WHERE id = ?", id)
	r, err := scanCall(row)
	if err != nil {
		return nil, notFound(err, "call record", id)
	}
	return r, nil
}

// ListCallRecords returns the records matching f, newest first, and whether
// more follow.
func (d *DB) ListCallRecords(ctx context.Context, f store.CallFilter) ([]store.CallRecord, bool, error) {
	q := listQuery[store.CallRecord]{table: "call_records", cols: callCols, newest: true, scanRow: scanCall}
	if f.AccountID != "" {
		q.where = append(q.where, "account_id = ?")
		q.args = append(q.args, f.AccountID)
	}
	if f.UserID != "" {
		q.where = append(q.where, "(from_user_id = ? OR to_user_id = ?)")
		q.args = append(q.args, f.UserID, f.UserID)
	}
	q.where, q.args = callQueryWhere(f.CallQuery, q.where, q.args)
	return q.run(ctx, d, f.ListOptions)
}

func scanCall(s rowScanner) (*store.CallRecord, error) {
	var r store.CallRecord
	var started, legs string
	var answered, ended sql.NullString
	err := s.Scan(&r.ID, &r.AccountID, &r.Direction, &r.FromUserID, &r.ToUserID, &r.From,
		&r.FromName, &r.To, &r.AnsweredBy, &started, &answered, &ended, &r.EndReason, &legs, &r.Transfer, &r.NodeID)
	if err != nil {
		return nil, err
	}
	if r.StartedAt, err = parseTime(started); err != nil {
		return nil, err
	}
	if r.AnsweredAt, err = parseNullTime(answered); err != nil {
		return nil, err
	}
	if r.EndedAt, err = parseNullTime(ended); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(legs), &r.Legs); err != nil {
		return nil, fmt.Errorf("decode legs of call %q: %w", r.ID, err)
	}
	return &r, nil
}
