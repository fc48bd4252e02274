package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

const numberCols = "id, account_id, number, user_id, ring_group_id, created_at"

// CreatePhoneNumber inserts n, filling in its ID and CreatedAt when unset.
func (d *DB) CreatePhoneNumber(ctx context.Context, n *store.PhoneNumber) error {
	if n.ID == "" {
		n.ID = ident.NewPhoneNumberID()
	}
	if n.CreatedAt.IsZero() {
		n.CreatedAt = now()
	}
	if n.UserID != "" && n.RingGroupID != "" {
		return errBothRoutes
	}
	_, err := d.exec(ctx,
		"INSERT INTO phone_numbers ("+numberCols+") VALUES (?, ?, ?, ?, ?, ?)",
		n.ID, n.AccountID, n.Number, nullUserID(n.UserID), n.RingGroupID, formatTime(n.CreatedAt))
	if err != nil {
		return d.numberWriteError(err, n.ID, n.Number, n.UserID, n.RingGroupID)
	}
	return nil
}

// errBothRoutes refuses a number routed to a user and a ring group at once.
var errBothRoutes = errors.New("a phone number rings a user or a ring group, not both")

// numberWriteError maps a failed write of a phone number to ErrConflict (the
// number or id is taken) or ErrNotFound (the user or ring group does not
// exist).
func (d *DB) numberWriteError(err error, id ident.PhoneNumberID, number string, user ident.UserID, group ident.RingGroupID) error {
	switch {
	case strings.Contains(err.Error(), msgRingGroupNotFound):
		return fmt.Errorf("ring group %q not found: %w", group, store.ErrNotFound)
	case d.isForeignKey(err):
		return fmt.Errorf("user %q not found: %w", user, store.ErrNotFound)
	case d.uniqueOn(err, "phone_numbers.number"):
		return fmt.Errorf("number %q is taken: %w", number, store.ErrConflict)
	case d.isUnique(err):
		return fmt.Errorf("phone number id %q is taken: %w", id, store.ErrConflict)
	}
	return fmt.Errorf("write phone number %q: %w", id, err)
}

// GetPhoneNumber returns the phone number with the given id.
func (d *DB) GetPhoneNumber(ctx context.Context, id ident.PhoneNumberID) (*store.PhoneNumber, error) {
	return d.getNumber(ctx, "phone number", id, "id = ?", id)
}

// GetPhoneNumberByNumber returns the phone number resource for an E.164 number.
func (d *DB) GetPhoneNumberByNumber(ctx context.Context, number string) (*store.PhoneNumber, error) {
	return d.getNumber(ctx, "number", number, "number = ?", number)
}

func (d *DB) getNumber(ctx context.Context, what string, key any, where string, arg any) (*store.PhoneNumber, error) {
	row := d.queryRow(ctx, "SELECT "+numberCols+" FROM phone_numbers WHERE "+where, arg)
	n, err := scanNumber(row)
	if err != nil {
		return nil, notFound(err, what, key)
	}
	return n, nil
}

// ListPhoneNumbers returns the numbers of account (all numbers when account
// is empty), oldest first, and whether more follow.
func (d *DB) ListPhoneNumbers(ctx context.Context, account ident.AccountID, opt store.ListOptions) ([]store.PhoneNumber, bool, error) {
	q := listQuery[store.PhoneNumber]{table: "phone_numbers", cols: numberCols, scanRow: scanNumber}
	if account != "" {
		q.where, q.args = []string{"account_id = ?"}, []any{account}
	}
	return q.run(ctx, d, opt)
}

// UpdatePhoneNumber applies p and returns the updated number. A pointer to an
// empty id clears that routing; routing to a user clears the ring group and
// the other way round.
func (d *DB) UpdatePhoneNumber(ctx context.Context, id ident.PhoneNumberID, p store.PhoneNumberPatch) (*store.PhoneNumber, error) {
	var user ident.UserID
	var group ident.RingGroupID
	var sets []string
	var args []any
	if p.UserID != nil {
		user = *p.UserID
		sets, args = append(sets, "user_id = ?"), append(args, nullUserID(user))
	}
	if p.RingGroupID != nil {
		group = *p.RingGroupID
		sets, args = append(sets, "ring_group_id = ?"), append(args, string(group))
	}
	switch {
	case user != "" && group != "":
		return nil, errBothRoutes
	case user != "" && p.RingGroupID == nil:
		sets = append(sets, "ring_group_id = ''")
	case group != "" && p.UserID == nil:
		sets = append(sets, "user_id = NULL")
	}
	if len(sets) == 0 {
		return d.GetPhoneNumber(ctx, id)
	}
	row := d.queryRow(ctx,
		"UPDATE phone_numbers SET "+strings.Join(sets, ", ")+" WHERE id = ? RETURNING "+numberCols,
		append(args, id)...)
	n, err := scanNumber(row)
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, sql.ErrNoRows):
		return nil, notFound(err, "phone number", id)
	}
	return nil, d.numberWriteError(err, id, "", user, group)
}

// DeletePhoneNumber removes the phone number.
func (d *DB) DeletePhoneNumber(ctx context.Context, id ident.PhoneNumberID) error {
	return d.execOne(ctx, "phone number", id, "DELETE FROM phone_numbers WHERE id = ?", id)
}

// nullUserID stores an empty user id as NULL (no routing).
func nullUserID(id ident.UserID) sql.NullString {
	return sql.NullString{String: string(id), Valid: id != ""}
}

func scanNumber(r rowScanner) (*store.PhoneNumber, error) {
	var n store.PhoneNumber
	var user sql.NullString
	var created string
	if err := r.Scan(&n.ID, &n.AccountID, &n.Number, &user, &n.RingGroupID, &created); err != nil {
		return nil, err
	}
	n.UserID = ident.UserID(user.String)
	var err error
	n.CreatedAt, err = parseTime(created)
	return &n, err
}
