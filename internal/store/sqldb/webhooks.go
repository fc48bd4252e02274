package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// webhookRetention is how long an event may wait for its first delivery.
const webhookRetention = 24 * time.Hour

const endpointCols = "id, account_id, url, events, secret, enabled, created_at, previous_secret, previous_until_ms"

// CreateWebhookEndpoint inserts e, filling in its ID and CreatedAt.
func (d *DB) CreateWebhookEndpoint(ctx context.Context, e *store.WebhookEndpoint) error {
	if e.ID == "" {
		e.ID = "we_" + ident.Short() + ident.Short()
	}
	e.CreatedAt = now()
	events, err := json.Marshal(e.Events)
	if err != nil {
		return err
	}
	_, err = d.exec(ctx, "INSERT INTO webhook_endpoints ("+endpointCols+") VALUES (?, ?, ?, ?, ?, ?, ?, '', 0)",
		e.ID, e.AccountID, e.URL, string(events), d.box.Seal(e.Secret), e.Enabled, formatTime(e.CreatedAt))
	if err != nil {
		return fmt.Errorf("create webhook endpoint: %w", err)
	}
	return nil
}

// GetWebhookEndpoint returns the account's endpoint id.
func (d *DB) GetWebhookEndpoint(ctx context.Context, account ident.AccountID, id string) (*store.WebhookEndpoint, error) {
	row := d.queryRow(ctx, "SELECT "+endpointCols+" FROM webhook_endpoints WHERE id = ? AND account_id = ?", id, account)
	e, err := d.scanEndpoint(row)
	if err != nil {
		return nil, notFound(err, "webhook endpoint", id)
	}
	return e, nil
}

// ListWebhookEndpoints returns the account's endpoints, oldest first.
func (d *DB) ListWebhookEndpoints(ctx context.Context, account ident.AccountID) ([]store.WebhookEndpoint, error) {
	rows, err := d.query(ctx, "SELECT "+endpointCols+" FROM webhook_endpoints WHERE account_id = ? ORDER BY "+d.dl.Seq, account)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.WebhookEndpoint{}
	for rows.Next() {
		e, err := d.scanEndpoint(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	return out, rows.Err()
}

// UpdateWebhookEndpoint replaces url, events and enabled of e.
func (d *DB) UpdateWebhookEndpoint(ctx context.Context, e *store.WebhookEndpoint) error {
	events, err := json.Marshal(e.Events)
	if err != nil {
		return err
	}
	return d.execOne(ctx, "webhook endpoint", e.ID,
		"UPDATE webhook_endpoints SET url = ?, events = ?, enabled = ? WHERE id = ? AND account_id = ?",
		e.URL, string(events), e.Enabled, e.ID, e.AccountID)
}

// DeleteWebhookEndpoint removes the endpoint and its deliveries.
func (d *DB) DeleteWebhookEndpoint(ctx context.Context, account ident.AccountID, id string) error {
	return d.execOne(ctx, "webhook endpoint", id, "DELETE FROM webhook_endpoints WHERE id = ? AND account_id = ?", id, account)
}

// scanEndpoint reads an endpoint row, opening its sealed secret.
func (d *DB) scanEndpoint(s rowScanner) (*store.WebhookEndpoint, error) {
	var e store.WebhookEndpoint
	var events, created, prev string
	var prevUntil int64
	if err := s.Scan(&e.ID, &e.AccountID, &e.URL, &events, &e.Secret, &e.Enabled, &created, &prev, &prevUntil); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(events), &e.Events); err != nil {
		return nil, fmt.Errorf("decode events of webhook endpoint %q: %w", e.ID, err)
	}
	var err error
	if e.Secret, err = d.openStored(e.Secret); err != nil {
		return nil, fmt.Errorf("open secret of webhook endpoint %q: %w", e.ID, err)
	}
	if e.PreviousSecret, e.PreviousUntil, err = d.openPrevious(prev, prevUntil); err != nil {
		return nil, fmt.Errorf("open previous secret of webhook endpoint %q: %w", e.ID, err)
	}
	e.CreatedAt, err = parseTime(created)
	return &e, err
}

// fanOut is the outbox write: one pending delivery of ev per enabled
// endpoint of its account subscribed to its type.
func (d *DB) fanOut() string {
	return `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, type, call_id, payload,
	next_attempt_ms, expires_ms, created_at, created_ms)
	SELECT 'whd_' || ` + d.dl.RandomHex + `, e.id, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT),
		CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS BIGINT)
	FROM webhook_endpoints e
	WHERE e.account_id = ? AND e.enabled AND ` + fmt.Sprintf(d.dl.JSONHas, "e.events")
}

// logEvent is the event log write (every event, for the events stream).
const logEvent = `INSERT INTO events (id, account_id, type, call_id, payload, created_ms) VALUES (?, ?, ?, ?, ?, ?)`

// appendEvent writes ev to the event log and fans it out to the outbox,
// in t, so both or neither are written. The event log must grow in
// commit order (a stream resumes after a position): the dialect's
// EventsLock, where the engine has concurrent writers, serializes event
// writers until commit.
func (d *DB) appendEvent(ctx context.Context, t *tx, ev store.WebhookEvent) error {
	if ev.ID == "" {
		ev.ID = "evt_" + ident.Short() + ident.Short()
	}
	if ev.At.IsZero() {
		ev.At = now()
	}
	payload, err := ev.Payload()
	if err != nil {
		return fmt.Errorf("encode event %s: %w", ev.Type, err)
	}
	ms := ev.At.UnixMilli()
	if d.dl.EventsLock != "" {
		if _, err := t.exec(ctx, d.dl.EventsLock); err != nil {
			return fmt.Errorf("lock the event log: %w", err)
		}
	}
	if _, err := t.exec(ctx, logEvent, ev.ID, ev.AccountID, ev.Type, ev.CallID, string(payload), ms); err != nil {
		return fmt.Errorf("log event %s: %w", ev.Type, err)
	}
	_, err = t.exec(ctx, d.fanOut(), ev.ID, ev.Type, ev.CallID, string(payload), ms,
		ev.At.Add(webhookRetention).UnixMilli(), formatTime(ev.At), ms, ev.AccountID, ev.Type)
	if err != nil {
		return fmt.Errorf("queue event %s: %w", ev.Type, err)
	}
	return nil
}

// AppendWebhookEvent queues ev for its account's subscribed endpoints.
func (d *DB) AppendWebhookEvent(ctx context.Context, ev store.WebhookEvent) error {
	t, err := d.begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = t.rollback() }()
	if err := d.appendEvent(ctx, t, ev); err != nil {
		return err
	}
	return t.commit()
}

// UpdateCallRecordWithEvent updates r and queues ev in one transaction.
func (d *DB) UpdateCallRecordWithEvent(ctx context.Context, r *store.CallRecord, ev store.WebhookEvent) error {
	args, err := callArgs(r)
	if err != nil {
		return err
	}
	tx, err := d.begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.rollback() }()
	res, err := tx.exec(ctx, updateCall, append(args, r.ID)...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("call record %q: %w", r.ID, store.ErrNotFound)
	}
	if err := d.appendEvent(ctx, tx, ev); err != nil {
		return err
	}
	return tx.commit()
}

// deliveryFrom selects deliveries with their endpoint's url and secret.
const deliveryFrom = `SELECT d.id, d.endpoint_id, d.event_id, d.type, d.call_id, d.payload, d.status,
	d.attempts, d.last_error, d.next_attempt_ms, d.expires_ms, d.delivered_at, d.created_at, e.url, e.secret,
	e.previous_secret, e.previous_until_ms
	FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id `

// DueWebhookDeliveries returns the deliveries due at q.Now, in order, at
// most q.PerEndpoint of each endpoint and none of q.Skip's.
func (d *DB) DueWebhookDeliveries(ctx context.Context, q store.DueQuery) ([]store.WebhookDelivery, error) {
	per := q.PerEndpoint
	if per <= 0 {
		per = q.Limit
	}
	args := []any{q.Now.UnixMilli()}
	skip := ""
	if len(q.Skip) > 0 {
		skip = "AND d.endpoint_id NOT IN (" + placeholders(len(q.Skip)) + ")"
		for _, id := range q.Skip {
			args = append(args, id)
		}
	}
	due := `SELECT seq FROM (SELECT d.seq, ROW_NUMBER() OVER (PARTITION BY d.endpoint_id ORDER BY d.seq) AS n
		FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
		WHERE e.enabled AND d.status = 'pending' AND d.next_attempt_ms <= ? ` + skip + `
		AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.endpoint_id = d.endpoint_id
			AND p.call_id = d.call_id AND d.call_id != '' AND p.status = 'pending' AND p.seq < d.seq)) AS due
		WHERE n <= ?`
	return d.queryDeliveries(ctx, deliveryFrom+"WHERE d.seq IN ("+due+") ORDER BY d.seq LIMIT ?",
		append(args, per, q.Limit)...)
}

// placeholders returns n comma-separated "?".
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// ListWebhookDeliveries returns the endpoint's deliveries, newest first.
func (d *DB) ListWebhookDeliveries(ctx context.Context, endpoint string, limit int) ([]store.WebhookDelivery, error) {
	return d.queryDeliveries(ctx, deliveryFrom+"WHERE d.endpoint_id = ? ORDER BY d.seq DESC LIMIT ?",
		endpoint, clampLimit(limit))
}

// FinishWebhookAttempt records the outcome of one attempt.
func (d *DB) FinishWebhookAttempt(ctx context.Context, id string, a store.WebhookAttempt) error {
	status, next, delivered := store.DeliveryPending, a.Next.UnixMilli(), sql.NullString{}
	switch {
	case a.Delivered:
		status, next = store.DeliveryDelivered, 0
		delivered = sql.NullString{String: formatTime(a.At), Valid: true}
	case a.Next.IsZero():
		status, next = store.DeliveryFailed, 0
	}
	return d.execOne(ctx, "webhook delivery", id, `UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1,
		last_error = ?, next_attempt_ms = ?, delivered_at = ? WHERE id = ?`, status, a.Err, next, delivered, id)
}

// RedeliverWebhook makes the endpoint's delivery id pending again.
func (d *DB) RedeliverWebhook(ctx context.Context, endpoint, id string, at, expires time.Time) (*store.WebhookDelivery, error) {
	err := d.execOne(ctx, "webhook delivery", id, `UPDATE webhook_deliveries SET status = 'pending',
		next_attempt_ms = ?, expires_ms = ?, delivered_at = NULL WHERE id = ? AND endpoint_id = ?`,
		at.UnixMilli(), expires.UnixMilli(), id, endpoint)
	if err != nil {
		return nil, err
	}
	out, err := d.queryDeliveries(ctx, deliveryFrom+"WHERE d.id = ?", id)
	if err != nil || len(out) == 0 {
		return nil, notFound(sql.ErrNoRows, "webhook delivery", id)
	}
	return &out[0], nil
}

func (d *DB) queryDeliveries(ctx context.Context, q string, args ...any) ([]store.WebhookDelivery, error) {
	rows, err := d.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.WebhookDelivery{}
	for rows.Next() {
		var w store.WebhookDelivery
		var payload, created string
		var next, expires, prevUntil int64
		var delivered sql.NullString
		var prev string
		if err := rows.Scan(&w.ID, &w.EndpointID, &w.EventID, &w.Type, &w.CallID, &payload, &w.Status,
			&w.Attempts, &w.LastError, &next, &expires, &delivered, &created, &w.URL, &w.Secret,
			&prev, &prevUntil); err != nil {
			return nil, err
		}
		w.Payload = []byte(payload)
		if w.Secret, err = d.openStored(w.Secret); err != nil {
			return nil, fmt.Errorf("open secret of webhook endpoint %q: %w", w.EndpointID, err)
		}
		if w.PreviousSecret, w.PreviousUntil, err = d.openPrevious(prev, prevUntil); err != nil {
			return nil, fmt.Errorf("open previous secret of webhook endpoint %q: %w", w.EndpointID, err)
		}
		if w.Status == store.DeliveryPending {
			w.NextAttemptAt = time.UnixMilli(next).UTC()
		}
		w.ExpiresAt = time.UnixMilli(expires).UTC()
		if w.DeliveredAt, err = parseNullTime(delivered); err != nil {
			return nil, err
		}
		if w.CreatedAt, err = parseTime(created); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}
