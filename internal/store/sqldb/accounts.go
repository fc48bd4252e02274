package sqldb

import (
	"context"
	"fmt"

	"github.com/switchboard-voice/switchboard/internal/ident"
	"github.com/switchboard-voice/switchboard/internal/store"
)

const accountCols = "id, name, default_caller_id, created_at"

// CreateAccount inserts a, filling in its ID and CreatedAt when unset.
func (d *DB) CreateAccount(ctx context.Context, a *store.Account) error {
	if a.ID == "" {
		a.ID = ident.NewAccountID()
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now()
	}
	_, err := d.exec(ctx,
		"INSERT INTO accounts ("+accountCols+") VALUES (?, ?, ?, ?)",
		a.ID, a.Name, a.DefaultCallerID, formatTime(a.CreatedAt))
	if d.isUnique(err) {
		return fmt.Errorf("account id %q is taken: %w", a.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	return nil
}

// GetAccount returns the account with the given id.
func (d *DB) GetAccount(ctx context.Context, id ident.AccountID) (*store.Account, error) {
	row := d.queryRow(ctx, "SELECT "+accountCols+" FROM accounts WHERE id = ?", id)
	a, err := scanAccount(row)
	if err != nil {
		return nil, notFound(err, "account", id)
	}
	return a, nil
}

// ListAccounts returns every account, oldest first.
func (d *DB) ListAccounts(ctx context.Context) ([]store.Account, error) {
	rows, err := d.query(ctx, "SELECT "+accountCols+" FROM accounts ORDER BY "+d.dl.Seq)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	var out []store.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *a)
	}
	return out, rows.Err()
}

func scanAccount(r rowScanner) (*store.Account, error) {
	var a store.Account
	var created string
	if err := r.Scan(&a.ID, &a.Name, &a.DefaultCallerID, &created); err != nil {
		return nil, err
	}
	var err error
	a.CreatedAt, err = parseTime(created)
	return &a, err
}
