package sqldb

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

const emergencyCols = "id, user_id, account_id, address_number, street, unit, city, state, postal_code, country, " +
	"formatted_address, registered_ip, created_at"

// CreateEmergencyAddress inserts a, filling in its ID and CreatedAt, unless
// its user already has max addresses (store.ErrLimit). The count and the
// insert are one statement, in a transaction holding the user's row where
// the engine locks rows, so concurrent creates cannot pass the cap.
func (d *DB) CreateEmergencyAddress(ctx context.Context, a *store.EmergencyAddress, max int) error {
	if a.ID == "" {
		a.ID = ident.NewEmergencyAddressID()
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now()
	}
	tx, err := d.begin(ctx)
	if err != nil {
		return fmt.Errorf("create emergency address: %w", err)
	}
	defer func() { _ = tx.rollback() }()
	if d.dl.ForUpdate != "" {
		var id string
		err := tx.queryRow(ctx, "SELECT id FROM users WHERE id = ?"+d.dl.ForUpdate, a.UserID).Scan(&id)
		if err != nil {
			return notFound(err, "user", a.UserID)
		}
	}
	res, err := tx.exec(ctx, "INSERT INTO emergency_addresses ("+emergencyCols+") "+
		"SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE (SELECT COUNT(*) FROM emergency_addresses WHERE user_id = ?) < ?",
		a.ID, a.UserID, a.AccountID, a.AddressNumber, a.Street, a.Unit, a.City, a.State, a.PostalCode, a.Country,
		a.FormattedAddress, nullString(a.RegisteredIP), formatTime(a.CreatedAt), a.UserID, max)
	switch {
	case d.isForeignKey(err):
		return fmt.Errorf("user %q not found: %w", a.UserID, store.ErrNotFound)
	case d.isUnique(err):
		return fmt.Errorf("emergency address id %q is taken: %w", a.ID, store.ErrConflict)
	case err != nil:
		return fmt.Errorf("create emergency address: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("user %q has %d emergency addresses: %w", a.UserID, max, store.ErrLimit)
	}
	return tx.commit()
}

// GetEmergencyAddress returns the user's address with the given id.
func (d *DB) GetEmergencyAddress(ctx context.Context, user ident.UserID, id ident.EmergencyAddressID) (*store.EmergencyAddress, error) {
	row := d.queryRow(ctx, "SELECT "+emergencyCols+" FROM emergency_addresses WHERE id = ? AND user_id = ?", id, user)
	a, err := scanEmergency(row)
	if err != nil {
		return nil, notFound(err, "emergency address", id)
	}
	return a, nil
}

// ListEmergencyAddresses returns the user's addresses, newest first.
func (d *DB) ListEmergencyAddresses(ctx context.Context, user ident.UserID) ([]store.EmergencyAddress, error) {
	rows, err := d.query(ctx, "SELECT "+emergencyCols+" FROM emergency_addresses WHERE user_id = ? "+
		"ORDER BY created_at DESC, "+d.dl.Seq+" DESC", user)
	if err != nil {
		return nil, fmt.Errorf("list emergency addresses: %w", err)
	}
	defer rows.Close()
	out := []store.EmergencyAddress{}
	for rows.Next() {
		a, err := scanEmergency(rows)
		if err != nil {
			return nil, fmt.Errorf("list emergency addresses: %w", err)
		}
		out = append(out, *a)
	}
	return out, rows.Err()
}

// DeleteEmergencyAddress removes the user's address.
func (d *DB) DeleteEmergencyAddress(ctx context.Context, user ident.UserID, id ident.EmergencyAddressID) error {
	return d.execOne(ctx, "emergency address", id, "DELETE FROM emergency_addresses WHERE id = ? AND user_id = ?", id, user)
}

// ClearEmergencyAddressIP unbinds the user's address from its network.
func (d *DB) ClearEmergencyAddressIP(ctx context.Context, user ident.UserID, id ident.EmergencyAddressID) error {
	return d.execOne(ctx, "emergency address", id,
		"UPDATE emergency_addresses SET registered_ip = NULL WHERE id = ? AND user_id = ?", id, user)
}

// BindEmergencyAddress binds the user's address to ip when it is bound to
// no network, and returns it as it then is.
func (d *DB) BindEmergencyAddress(ctx context.Context, user ident.UserID, id ident.EmergencyAddressID, ip string) (*store.EmergencyAddress, error) {
	row := d.queryRow(ctx, "UPDATE emergency_addresses SET registered_ip = COALESCE(registered_ip, ?) "+
		"WHERE id = ? AND user_id = ? RETURNING "+emergencyCols, ip, id, user)
	a, err := scanEmergency(row)
	if err != nil {
		return nil, notFound(err, "emergency address", id)
	}
	return a, nil
}

func scanEmergency(r rowScanner) (*store.EmergencyAddress, error) {
	var a store.EmergencyAddress
	var ip sql.NullString
	var created string
	if err := r.Scan(&a.ID, &a.UserID, &a.AccountID, &a.AddressNumber, &a.Street, &a.Unit, &a.City, &a.State,
		&a.PostalCode, &a.Country, &a.FormattedAddress, &ip, &created); err != nil {
		return nil, err
	}
	a.RegisteredIP = ip.String
	var err error
	a.CreatedAt, err = parseTime(created)
	return &a, err
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
