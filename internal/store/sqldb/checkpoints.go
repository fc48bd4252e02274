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
	tx, err := d.begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("close open call records: %w", err)
	}
	defer func() { _ = tx.rollback() }()
	ends, err := openRecordEnds(ctx, tx, at)
	if err != nil {
		return 0, fmt.Errorf("close open call records: %w", err)
	}
	for id, end := range ends {
		if _, err := tx.exec(ctx,
			"UPDATE call_records SET ended_at = ?, end_reason = ? WHERE id = ?",
			formatTime(end), reason, id); err != nil {
			return 0, fmt.Errorf("close call record %q: %w", id, err)
		}
	}
	if err := tx.commit(); err != nil {
		return 0, fmt.Errorf("close open call records: %w", err)
	}
	return len(ends), nil
}

// openRecordEnds reads the open records and when each should end.
func openRecordEnds(ctx context.Context, tx *tx, at time.Time) (map[ident.CallID]time.Time, error) {
	rows, err := tx.query(ctx,
		"SELECT id, started_at, answered_at, checkpoint_at, last_media_at FROM call_records WHERE ended_at IS NULL")
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
