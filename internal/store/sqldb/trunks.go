package sqldb

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

const trunkCols = "id, name, host, port, transport, username, password, prefixes, priority, " +
	"inbound_addresses, inbound_auth, inbound_username, inbound_password, register, register_expires, created_at, updated_at"

// CreateTrunk inserts t, filling in its ID and times when unset.
func (d *DB) CreateTrunk(ctx context.Context, t *store.Trunk) error {
	if t.ID == "" {
		t.ID = ident.NewTrunkID()
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now()
	}
	t.UpdatedAt = t.CreatedAt
	prefixes, inbound := jsonList(t.Prefixes), jsonList(t.InboundAddresses)
	_, err := d.exec(ctx, "INSERT INTO trunks ("+trunkCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		t.ID, t.Name, t.Host, t.Port, t.Transport, t.Username, d.box.Seal(t.Password), prefixes, t.Priority, inbound,
		t.InboundAuth, t.InboundUsername, d.box.Seal(t.InboundPassword), t.Register, t.RegisterExpires, formatTime(t.CreatedAt), formatTime(t.UpdatedAt))
	if err != nil {
		return d.trunkWriteError(err, t)
	}
	return nil
}

// trunkWriteError maps a failed write to ErrConflict (name or id taken).
func (d *DB) trunkWriteError(err error, t *store.Trunk) error {
	switch {
	case d.uniqueOn(err, "trunks.name"):
		return fmt.Errorf("trunk name %q is taken: %w", t.Name, store.ErrConflict)
	case d.isUnique(err):
		return fmt.Errorf("trunk id %q is taken: %w", t.ID, store.ErrConflict)
	}
	return fmt.Errorf("write trunk %q: %w", t.ID, err)
}

// GetTrunk returns the trunk with the given id.
func (d *DB) GetTrunk(ctx context.Context, id ident.TrunkID) (*store.Trunk, error) {
	t, err := d.scanTrunk(d.queryRow(ctx, "SELECT "+trunkCols+" FROM trunks WHERE id = ?", id))
	if err != nil {
		return nil, notFound(err, "trunk", id)
	}
	return t, nil
}

// ListTrunks returns trunks oldest first and whether more follow.
func (d *DB) ListTrunks(ctx context.Context, opt store.ListOptions) ([]store.Trunk, bool, error) {
	q := listQuery[store.Trunk]{table: "trunks", cols: trunkCols, scanRow: d.scanTrunk}
	return q.run(ctx, d, opt)
}

// UpdateTrunk replaces the stored trunk with t's id (CreatedAt is kept).
func (d *DB) UpdateTrunk(ctx context.Context, t *store.Trunk) error {
	t.UpdatedAt = now()
	res, err := d.exec(ctx, `UPDATE trunks SET name = ?, host = ?, port = ?, transport = ?, username = ?,
		password = ?, prefixes = ?, priority = ?, inbound_addresses = ?, inbound_auth = ?, inbound_username = ?,
		inbound_password = ?, register = ?, register_expires = ?, updated_at = ? WHERE id = ?`,
		t.Name, t.Host, t.Port, t.Transport, t.Username, d.box.Seal(t.Password), jsonList(t.Prefixes), t.Priority,
		jsonList(t.InboundAddresses), t.InboundAuth, t.InboundUsername, d.box.Seal(t.InboundPassword), t.Register, t.RegisterExpires, formatTime(t.UpdatedAt), t.ID)
	if err != nil {
		return d.trunkWriteError(err, t)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("trunk %q: %w", t.ID, store.ErrNotFound)
	}
	return nil
}

// DeleteTrunk removes the trunk.
func (d *DB) DeleteTrunk(ctx context.Context, id ident.TrunkID) error {
	return d.execOne(ctx, "trunk", id, "DELETE FROM trunks WHERE id = ?", id)
}

func jsonList(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l)
	return string(b)
}

// scanTrunk reads a trunk row, opening its sealed passwords.
func (d *DB) scanTrunk(r rowScanner) (*store.Trunk, error) {
	var t store.Trunk
	var prefixes, inbound, created, updated string
	if err := r.Scan(&t.ID, &t.Name, &t.Host, &t.Port, &t.Transport, &t.Username, &t.Password, &prefixes,
		&t.Priority, &inbound, &t.InboundAuth, &t.InboundUsername, &t.InboundPassword, &t.Register, &t.RegisterExpires, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(prefixes), &t.Prefixes); err != nil {
		return nil, fmt.Errorf("trunk %q prefixes: %w", t.ID, err)
	}
	if err := json.Unmarshal([]byte(inbound), &t.InboundAddresses); err != nil {
		return nil, fmt.Errorf("trunk %q inbound_addresses: %w", t.ID, err)
	}
	var err error
	if t.Password, err = d.openStored(t.Password); err != nil {
		return nil, fmt.Errorf("trunk %q password: %w", t.ID, err)
	}
	if t.InboundPassword, err = d.openStored(t.InboundPassword); err != nil {
		return nil, fmt.Errorf("trunk %q inbound_password: %w", t.ID, err)
	}
	if t.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	t.UpdatedAt, err = parseTime(updated)
	return &t, err
}
