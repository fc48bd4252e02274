package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

// SaveCallQuality stores the quality series of the record with id.
func (d *DB) SaveCallQuality(ctx context.Context, id ident.CallID, legs []store.LegQuality) error {
	if legs == nil {
		legs = []store.LegQuality{}
	}
	b, err := json.Marshal(legs)
	if err != nil {
		return fmt.Errorf("encode quality of call %q: %w", id, err)
	}
	return d.execOne(ctx, "call record", id, "UPDATE call_records SET quality = ? WHERE id = ?", string(b), id)
}

// GetCallQuality returns the quality series stored with the record id.
func (d *DB) GetCallQuality(ctx context.Context, id ident.CallID) ([]store.LegQuality, error) {
	var q sql.NullString
	err := d.queryRow(ctx, "SELECT quality FROM call_records WHERE id = ?", id).Scan(&q)
	if err != nil {
		return nil, notFound(err, "call record", id)
	}
	out := []store.LegQuality{}
	if q.Valid && q.String != "" {
		if err := json.Unmarshal([]byte(q.String), &out); err != nil {
			return nil, fmt.Errorf("decode quality of call %q: %w", id, err)
		}
	}
	return out, nil
}
