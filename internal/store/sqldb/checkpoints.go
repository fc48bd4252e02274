package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// CheckpointCallRecord saves cp on the record with the given id while it
// is open. A record already closed is left alone (the call's final write
// may overtake its last checkpoint).
func (d *DB) CheckpointCallRecord(ctx context.Context, id ident.CallID, cp store.CallCheckpoint) error {
	legs, err := json.Marshal(cp.Legs)
	if err != nil {
		return fmt.Errorf("encode legs of call %q: %w", id, err)
	}
	_, err = d.exec(ctx,
		"UPDATE call_records SET checkpoint_at = ?, last_media_at = ?, legs = ? WHERE id = ? AND ended_at IS NULL",
		formatTime(cp.At), nullTime(cp.LastMediaAt), string(legs), id)
	if err != nil {
		return fmt.Errorf("checkpoint call record %q: %w", id, err)
	}
	return nil
}

// CloseOpenCallRecords ends every record with no EndedAt with reason, at
// the time its call was last known alive (see store.CallRecords), keeping
// the legs' checkpointed stats, and returns how many it closed.
func (d *DB) CloseOpenCallRecords(ctx context.Context, reason string, at time.Time) (int, error) {
	return d.closeOpen(ctx, openScope{}, reason, at)
}

// CloseNodeCallRecords closes node's open records that started no later
// than at, as CloseOpenCallRecords does.
func (d *DB) CloseNodeCallRecords(ctx context.Context, node, reason string, at time.Time) (int, error) {
	return d.closeOpen(ctx, openScope{node: &node, startedBy: at}, reason, at)
}

// OpenCallRecordNodes lists the nodes with open records.
func (d *DB) OpenCallRecordNodes(ctx context.Context) ([]string, error) {
	rows, err := d.query(ctx, "SELECT DISTINCT node_id FROM call_records WHERE ended_at IS NULL ORDER BY node_id")
	if err != nil {
		return nil, fmt.Errorf("open call record nodes: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("open call record nodes: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// openScope narrows the open records closed: to one node's (node set)
// that started no later than startedBy.
type openScope struct {
	node      *string
	startedBy time.Time
}

func (d *DB) closeOpen(ctx context.Context, scope openScope, reason string, at time.Time) (int, error) {
	tx, err := d.begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("close open call records: %w", err)
	}
	defer func() { _ = tx.rollback() }()
	ends, err := openRecordEnds(ctx, tx, scope, at)
	if err != nil {
		return 0, fmt.Errorf("close open call records: %w", err)
	}
	n := 0
	for id, end := range ends {
		// Still open: another node may be closing the same records.
		res, err := tx.exec(ctx,
			"UPDATE call_records SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
			formatTime(end), reason, id)
		if err != nil {
			return 0, fmt.Errorf("close call record %q: %w", id, err)
		}
		k, err := res.RowsAffected()
		if err != nil || k == 0 {
			continue
		}
		n += int(k)
		if err := d.endedEvent(ctx, tx, id, end); err != nil {
			return 0, err
		}
	}
	if err := tx.commit(); err != nil {
		return 0, fmt.Errorf("close open call records: %w", err)
	}
	return n, nil
}

// endedEvent queues the call.ended event of a record closed here, in the
// same transaction: a call whose server died before it wrote the end
// still tells webhooks and the events stream how it ended.
func (d *DB) endedEvent(ctx context.Context, tx *tx, id ident.CallID, end time.Time) error {
	r, err := scanCall(tx.queryRow(ctx, "SELECT "+callCols+" FROM call_records WHERE id = ?", id))
	if err != nil {
		return fmt.Errorf("close call record %q: %w", id, err)
	}
	return d.appendEvent(ctx, tx, store.WebhookEvent{Type: store.EventCallEnded, AccountID: r.AccountID, CallID: r.ID,
		At: end, Data: r.View()})
}

// openRecordEnds reads the open records in scope and when each should end.
func openRecordEnds(ctx context.Context, tx *tx, scope openScope, at time.Time) (map[ident.CallID]time.Time, error) {
	q := "SELECT id, started_at, answered_at, checkpoint_at, last_media_at FROM call_records WHERE ended_at IS NULL"
	var args []any
	if scope.node != nil {
		q += " AND node_id = ?"
		args = append(args, *scope.node)
	}
	rows, err := tx.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ends := map[ident.CallID]time.Time{}
	for rows.Next() {
		var id ident.CallID
		var started string
		var answered, checkpoint, media sql.NullString
		if err := rows.Scan(&id, &started, &answered, &checkpoint, &media); err != nil {
			return nil, err
		}
		if scope.node != nil {
			// Times are RFC 3339 text of varying width: compared here.
			st, err := parseTime(started)
			if err != nil {
				return nil, fmt.Errorf("call record %q: %w", id, err)
			}
			if st.After(scope.startedBy) {
				continue
			}
		}
		end, err := lastAlive(started, answered, checkpoint, media, at)
		if err != nil {
			return nil, fmt.Errorf("call record %q: %w", id, err)
		}
		ends[id] = end
	}
	return ends, rows.Err()
}

// lastAlive is when an open record's call was last known alive: the last
// media seen, else the last checkpoint, else at (a record from before
// checkpoints); never before the call started or was answered.
func lastAlive(started string, answered, checkpoint, media sql.NullString, at time.Time) (time.Time, error) {
	end := at.UTC()
	for _, s := range []sql.NullString{checkpoint, media} { // media, when known, wins
		t, err := parseNullTime(s)
		if err != nil {
			return time.Time{}, err
		}
		if t != nil {
			end = *t
		}
	}
	for _, s := range []sql.NullString{{String: started, Valid: true}, answered} {
		t, err := parseNullTime(s)
		if err != nil {
			return time.Time{}, err
		}
		if t != nil && t.After(end) {
			end = *t
		}
	}
	return end, nil
}
