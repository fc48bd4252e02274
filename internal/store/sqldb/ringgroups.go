package sqldb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

const ringGroupCols = "id, account_id, name, extension, members, ring_seconds, next, created_at, updated_at"

// CreateRingGroup inserts g, filling in its ID and times when unset. The
// extension (when set) must be free among the account's users and groups.
func (d *DB) CreateRingGroup(ctx context.Context, g *store.RingGroup) error {
	if g.ID == "" {
		g.ID = ident.NewRingGroupID()
	}
	if g.CreatedAt.IsZero() {
		g.CreatedAt = now()
	}
	g.UpdatedAt = g.CreatedAt
	_, err := d.exec(ctx, "INSERT INTO ring_groups ("+ringGroupCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		g.ID, g.AccountID, g.Name, g.Extension, memberList(g.Members), g.RingSeconds, g.Next,
		formatTime(g.CreatedAt), formatTime(g.UpdatedAt))
	if err != nil {
		return d.ringGroupWriteError(err, g)
	}
	return nil
}

// ringGroupWriteError maps a failed write to ErrConflict (extension or id
// taken).
func (d *DB) ringGroupWriteError(err error, g *store.RingGroup) error {
	switch {
	case strings.Contains(err.Error(), msgExtByUser):
		return fmt.Errorf("extension %q is taken by a user: %w", g.Extension, store.ErrConflict)
	case d.uniqueOn(err, "ring_groups.extension"):
		return fmt.Errorf("extension %q is taken by a ring group: %w", g.Extension, store.ErrConflict)
	case d.isUnique(err):
		return fmt.Errorf("ring group id %q is taken: %w", g.ID, store.ErrConflict)
	}
	return fmt.Errorf("write ring group %q: %w", g.ID, err)
}

// GetRingGroup returns the ring group with the given id.
func (d *DB) GetRingGroup(ctx context.Context, id ident.RingGroupID) (*store.RingGroup, error) {
	g, err := scanRingGroup(d.queryRow(ctx, "SELECT "+ringGroupCols+" FROM ring_groups WHERE id = ?", id))
	if err != nil {
		return nil, notFound(err, "ring group", id)
	}
	return g, nil
}

// GetRingGroupByExtension returns the account's ring group with extension
// ext (never one without an extension).
func (d *DB) GetRingGroupByExtension(ctx context.Context, account ident.AccountID, ext string) (*store.RingGroup, error) {
	if ext == "" {
		return nil, fmt.Errorf("ring group extension %q: %w", ext, store.ErrNotFound)
	}
	g, err := scanRingGroup(d.queryRow(ctx,
		"SELECT "+ringGroupCols+" FROM ring_groups WHERE account_id = ? AND extension = ?", account, ext))
	if err != nil {
		return nil, notFound(err, "ring group extension", ext)
	}
	return g, nil
}

// ListRingGroups returns the ring groups of account (all when empty),
// oldest first, and whether more follow.
func (d *DB) ListRingGroups(ctx context.Context, account ident.AccountID, opt store.ListOptions) ([]store.RingGroup, bool, error) {
	q := listQuery[store.RingGroup]{table: "ring_groups", cols: ringGroupCols, scanRow: scanRingGroup}
	if account != "" {
		q.where, q.args = []string{"account_id = ?"}, []any{account}
	}
	return q.run(ctx, d, opt)
}

// UpdateRingGroup replaces the stored group with g's id (the account and
// CreatedAt are kept) and sets g.UpdatedAt.
func (d *DB) UpdateRingGroup(ctx context.Context, g *store.RingGroup) error {
	g.UpdatedAt = now()
	err := d.execOne(ctx, "ring group", g.ID, `UPDATE ring_groups SET name = ?, extension = ?, members = ?,
		ring_seconds = ?, next = ?, updated_at = ? WHERE id = ?`,
		g.Name, g.Extension, memberList(g.Members), g.RingSeconds, g.Next, formatTime(g.UpdatedAt), g.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return d.ringGroupWriteError(err, g)
	}
	return err
}

// DeleteRingGroup removes the group; a trigger un-routes its numbers.
func (d *DB) DeleteRingGroup(ctx context.Context, id ident.RingGroupID) error {
	return d.execOne(ctx, "ring group", id, "DELETE FROM ring_groups WHERE id = ?", id)
}

func memberList(ids []ident.UserID) string {
	l := make([]string, len(ids))
	for i, id := range ids {
		l[i] = string(id)
	}
	return jsonList(l)
}

func scanRingGroup(r rowScanner) (*store.RingGroup, error) {
	var g store.RingGroup
	var members, created, updated string
	if err := r.Scan(&g.ID, &g.AccountID, &g.Name, &g.Extension, &members, &g.RingSeconds, &g.Next,
		&created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(members), &g.Members); err != nil {
		return nil, fmt.Errorf("ring group %q members: %w", g.ID, err)
	}
	var err error
	if g.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	g.UpdatedAt, err = parseTime(updated)
	return &g, err
}
