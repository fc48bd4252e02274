package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// openPrevious opens a rotated-out secret; empty stays empty.
func (d *DB) openPrevious(sealed string, untilMS int64) (string, time.Time, error) {
	if sealed == "" {
		return "", time.Time{}, nil
	}
	s, err := d.openStored(sealed)
	if err != nil {
		return "", time.Time{}, err
	}
	return s, time.UnixMilli(untilMS).UTC(), nil
}

// RotateWebhookSecret swaps in secret; the replaced one signs until
// graceUntil.
func (d *DB) RotateWebhookSecret(ctx context.Context, account ident.AccountID, id, secret string, graceUntil time.Time) (*store.WebhookEndpoint, error) {
	err := d.execOne(ctx, "webhook endpoint", id, `UPDATE webhook_endpoints SET previous_secret = secret,
		previous_until_ms = ?, secret = ? WHERE id = ? AND account_id = ?`,
		graceUntil.UnixMilli(), d.box.Seal(secret), id, account)
	if err != nil {
		return nil, err
	}
	return d.GetWebhookEndpoint(ctx, account, id)
}

// EventSeq returns the position of the account's event id.
func (d *DB) EventSeq(ctx context.Context, account ident.AccountID, id string) (int64, error) {
	var seq int64
	err := d.queryRow(ctx, "SELECT seq FROM events WHERE id = ? AND account_id = ?", id, account).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("event %q: %w", id, store.ErrNotFound)
	}
	return seq, err
}

// LastEventSeq returns the position of the account's newest event.
func (d *DB) LastEventSeq(ctx context.Context, account ident.AccountID) (int64, error) {
	var seq sql.NullInt64
	err := d.queryRow(ctx, "SELECT max(seq) FROM events WHERE account_id = ?", account).Scan(&seq)
	return seq.Int64, err
}

// EventsAfter returns the account's events after position after.
func (d *DB) EventsAfter(ctx context.Context, account ident.AccountID, after int64, types []string, limit int) ([]store.StoredEvent, error) {
	args := []any{account, after}
	only := ""
	if len(types) > 0 {
		only = "AND type IN (" + placeholders(len(types)) + ")"
		for _, t := range types {
			args = append(args, t)
		}
	}
	rows, err := d.query(ctx, `SELECT seq, id, type, call_id, payload, created_ms FROM events
		WHERE account_id = ? AND seq > ? `+only+` ORDER BY seq LIMIT ?`, append(args, clampLimit(limit))...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.StoredEvent
	for rows.Next() {
		e := store.StoredEvent{AccountID: account}
		var payload string
		var ms int64
		if err := rows.Scan(&e.Seq, &e.ID, &e.Type, &e.CallID, &payload, &ms); err != nil {
			return nil, err
		}
		e.Payload, e.At = []byte(payload), time.UnixMilli(ms).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// PruneWebhooks fails expired pending deliveries and drops old finished
// deliveries and old events.
func (d *DB) PruneWebhooks(ctx context.Context, at, deliveriesBefore, eventsBefore time.Time) (store.PruneResult, error) {
	var r store.PruneResult
	steps := []struct {
		n    *int64
		q    string
		args []any
	}{
		{&r.Expired, `UPDATE webhook_deliveries SET status = 'failed', next_attempt_ms = 0,
			last_error = 'expired before it could be delivered' WHERE status = 'pending' AND expires_ms <= ?`,
			[]any{at.UnixMilli()}},
		{&r.Deliveries, "DELETE FROM webhook_deliveries WHERE status != 'pending' AND created_ms < ?",
			[]any{deliveriesBefore.UnixMilli()}},
		{&r.Events, "DELETE FROM events WHERE created_ms < ?", []any{eventsBefore.UnixMilli()}},
	}
	for _, s := range steps {
		res, err := d.exec(ctx, s.q, s.args...)
		if err != nil {
			return r, fmt.Errorf("prune webhooks: %w", err)
		}
		*s.n, _ = res.RowsAffected()
	}
	return r, nil
}
